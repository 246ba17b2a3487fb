"""Reading the warehouse's inputs for work that writes nothing (`orbit simulate`).

DuckDB lets one process open a file read-write *or* any number of processes read-only, never both,
and the pipeline opens the warehouse per task. To keep a writer waiting as briefly as possible, this
opens the warehouse read-only (retrying while a writer holds it, up to ``wait_seconds``), copies the
file (and its write-ahead log, if a killed writer left one) into a private temporary folder, and lets
go at once: while the read-only connection is open no writer can commit, so the copy is one consistent
state. The inputs are then loaded from the copy, which is deleted afterwards. On the demo company the
warehouse is held for the copy of ~11 MB (milliseconds) instead of the ~0.5 s the load takes.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from warehouse.db import WarehouseBusy, connect
from warehouse.periods import ClosedPeriod, closed_periods
from warehouse.read import latest_activity_at, load_frames

log = logging.getLogger(__name__)


class NoWarehouse(FileNotFoundError):
    """No warehouse at that path yet: nothing has been ingested."""


def _open_waiting(path: Path, wait_seconds: float, poll_seconds: float):
    deadline = time.monotonic() + wait_seconds
    waited = False
    while True:
        try:
            return connect(path, read_only=True)
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"{path} stayed locked by a writing run for {wait_seconds:g} s; "
                                    "try again when it has finished") from None
            if not waited:
                log.info("a run is writing %s; waiting for it to let go (up to %g s)", path, wait_seconds)
                waited = True
            time.sleep(poll_seconds)


def read_inputs(path: Path, columns: Mapping[str, Sequence[str]] | None, *, wait_seconds: float = 120.0,
                poll_seconds: float = 0.2
                ) -> tuple[dict[str, pl.DataFrame], dt.datetime | None, dict[str, ClosedPeriod]]:
    """The current rows of every dataset (projected on ``columns``), the latest activity time and the closed
    periods with their frozen figures, from one consistent state of the warehouse; waits up to
    ``wait_seconds`` for a writer to let go of the file."""
    path = Path(path)
    if not path.exists():
        raise NoWarehouse(f"no warehouse at {path}: run `orbit run` (or `orbit demo`) first")
    with tempfile.TemporaryDirectory(prefix="orbit-read-") as tmp:  # mode 0700: the copy holds names and money
        copy = Path(tmp) / path.name
        con = _open_waiting(path, wait_seconds, poll_seconds)
        try:
            started = time.monotonic()
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + ".wal")
            if wal.exists():
                shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
        finally:
            con.close()
        log.info("warehouse held read-only for %.3f s (copy)", time.monotonic() - started)
        con = connect(copy, read_only=True)
        try:
            return load_frames(con, columns), latest_activity_at(con), closed_periods(con)
        finally:
            con.close()
