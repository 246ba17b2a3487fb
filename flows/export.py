"""HR's bonus export: CSV or XLSX from the exact figures of one period, owner-read-only, audited.

Only a closed period is exported (``--draft`` marks anything else): :func:`transforms.export.check_export`
decides, :func:`warehouse.exports.write_bonus_export` writes. This flow holds the writer slot (the
export appends to the audit log).
"""

from __future__ import annotations

from pathlib import Path

from flows.common import run_logger, writing_run
from flows.engine import NO_CACHE, flow, task
from warehouse.exports import write_bonus_export
from warehouse.home import Home


@task(persist_result=False, cache_policy=NO_CACHE)  # not retried: a refusal is not I/O, the audit row is appended
def write_export(home: Home, period: str, fmt: str, out: Path | None, draft: bool) -> Path:
    return write_bonus_export(home.warehouse, home.exports, period, fmt, out, draft)


@flow(name="orbit-export-bonus", persist_result=False)
def export_bonus_flow(home: Home, period: str, fmt: str = "csv", out: Path | None = None, draft: bool = False) -> Path:
    with writing_run(home, "export"):  # it appends to the audit log
        path = write_export(home, period, fmt, out, draft)
    run_logger().info("bonus export for %s written to %s", period, path)
    return path
