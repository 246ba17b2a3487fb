"""What every flow shares: a run logger that also works outside a run, and the single warehouse
writer (the lock every writing run holds, and the record of why a run failed).

Events are in :mod:`flows.events`, the retry policy in :mod:`flows.retry`."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator

from flows.engine import in_flow_run

log = logging.getLogger("orbit")


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The flow run's logger inside a Prefect flow run, else Orbit's."""
    if not in_flow_run():
        return log
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


@contextlib.contextmanager
def writing_run(home, kind: str) -> Iterator[None]:
    """Hold the home's writer lock for a run that writes the warehouse (other writers queue, whatever
    process or Prefect API they come from; see :mod:`warehouse.lock`), and record in ``run_failures``
    why the run failed, if it does (the last good snapshot stays)."""
    from warehouse.lock import writer_lock

    with writer_lock(home.root, kind, on_wait=run_logger().warning):
        started = dt.datetime.now(dt.timezone.utc)
        try:
            yield
        except Exception as e:
            _record_failure(home, kind, started, e)
            raise


def _flow_run_id() -> str | None:
    if not in_flow_run():
        return None
    from prefect.runtime import flow_run

    return flow_run.get_id()


def _record_failure(home, kind: str, started: dt.datetime, error: Exception) -> None:
    from warehouse.db import open_warehouse
    from warehouse.operations import RunFailure, add_failure_to_snapshot, record_failure

    failure = RunFailure(kind, _flow_run_id(), started, dt.datetime.now(dt.timezone.utc),
                         type(error).__name__, str(error)[:2000])
    try:
        with open_warehouse(home.warehouse) as con:
            record_failure(con, failure)
    except Exception as e:  # noqa: BLE001 - the warehouse itself may be what failed
        log.warning("could not record the failure in %s: %s", home.warehouse, e)
    try:
        add_failure_to_snapshot(home.published, failure)
    except Exception as e:  # noqa: BLE001
        log.warning("could not add the failure to %s: %s", home.published, e)
