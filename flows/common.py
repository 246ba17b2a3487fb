"""Small helpers shared by the flows: a run logger that also works outside a run, events,
the single warehouse writer, failure records and the periods new data touches."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

from flows.engine import in_direct_mode, in_flow_run

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


def emit(event: str, *, resource_id: str, payload: dict, labels: dict[str, str] | None = None) -> None:
    """Emit a Prefect event (what `orbit serve`'s triggers listen to); never fails a run. A one-off
    command running without Prefect (:func:`flows.engine.direct`) has no API to emit to: nothing is sent."""
    if in_direct_mode():
        return
    from prefect.events import emit_event

    try:
        emit_event(event=event, resource={"prefect.resource.id": resource_id, **(labels or {})}, payload=payload)
    except Exception as e:  # noqa: BLE001 - an unreachable event sink must not fail a data run
        log.warning("could not emit %s: %s", event, e)


def home_label(home) -> dict[str, str]:
    """The resource label that scopes Orbit's events (and `orbit serve`'s triggers) to one ORBIT_HOME."""
    return {"orbit.home": str(home.root)}


def content_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return h.hexdigest()


def plan_bytes(paths: list[Path]) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(paths))


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


def touched_periods(home, plans, files: list[str], datasets: list[str] | None = None) -> dict[str, list[str] | None]:
    """For each dataset loaded from ``files`` (``datasets``, by default the files' folders; a source's file
    names its source's folder): the periods its new or changed rows touch (None: all).

    Read from the warehouse after loading; if that fails, every dataset touches every period.
    """
    import polars as pl

    from schemas.contracts import DATASETS
    from transforms.periods import TOUCH_COLUMNS, find_touched_periods
    from warehouse.db import open_warehouse
    from warehouse.operations import rows_from_files

    names = sorted((set(datasets) if datasets is not None else {f.split("/", 1)[0] for f in files}) & set(DATASETS))
    base = plans.base
    sla = [m.sla_hours for p in plans.plans for m in p.metrics.values() if m.sla_hours is not None]
    window = dt.timedelta(hours=float(max(sla))) if sla else dt.timedelta(0)
    columns = {"employees": [], "targets": ["period"], **{n: list(c) for n, c in TOUCH_COLUMNS.items()}}
    columns["activities"] = columns["activities"] + ["opportunity_id"]
    try:
        with open_warehouse(home.warehouse, read_only=True) as con:
            out: dict[str, list[str] | None] = {}
            for name in names:
                rows = rows_from_files(con, name, columns[name], files) if columns[name] else pl.DataFrame()
                opportunities = (rows_from_files(con, "opportunities", ["opportunity_id", "created_at", "closed_at"])
                                 if name == "activities" else None)
                out[name] = find_touched_periods(name, rows, base.timezone, base.period,
                                                 opportunities=opportunities, answer_window=window)
            return out
    except Exception as e:  # noqa: BLE001 - unknown periods mean: re-evaluate all of them
        log.warning("could not find the periods touched by %s: %s", ", ".join(files), e)
        return dict.fromkeys(names)
