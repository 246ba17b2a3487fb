"""Publish flow: a fresh analysts' snapshot, swapped in atomically."""

from __future__ import annotations

from flows.common import run_logger
from flows.engine import NO_CACHE, flow, task
from flows.retry import IO_RETRIES
from warehouse.db import open_warehouse
from warehouse.home import Home
from warehouse.publish import publish_snapshot


@task(**IO_RETRIES, persist_result=False, cache_policy=NO_CACHE)
def write_snapshot(home: Home) -> dict[str, int]:
    with open_warehouse(home.warehouse) as con:
        return publish_snapshot(con, home.published)


@flow(name="orbit-publish", persist_result=False)
def publish_flow(home: Home) -> dict[str, int]:
    counts = write_snapshot(home)
    run_logger().info("published %s: %s", home.published, ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts
