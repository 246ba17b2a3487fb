"""Reading the warehouse's inputs for work that writes nothing (`orbit simulate`).

DuckDB lets one process open a file read-write *or* any number of processes read-only, never both.
The pipeline opens the warehouse per task and closes it after, so a reader gets in between two
writing tasks: this opens it read-only (retrying while a writer holds it, up to ``wait_seconds``),
loads what it needs in one connection — one consistent state, since no writer can commit while the
file is open read-only — and closes it at once. Everything else happens in memory, so the window in
which a writer has to wait (and retry: writing tasks retry after 1 s and 5 s) is the load alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from warehouse.db import WarehouseBusy, connect
from warehouse.read import latest_activity_at, load_frames

log = logging.getLogger(__name__)


class NoWarehouse(FileNotFoundError):
    """No warehouse at that path yet: nothing has been ingested."""


def read_inputs(path: Path, columns: Mapping[str, Sequence[str]] | None, *, wait_seconds: float = 120.0,
                poll_seconds: float = 0.5) -> tuple[dict[str, pl.DataFrame], dt.datetime | None]:
    """The current rows of every dataset (projected on ``columns``) and the latest activity time, read in one
    read-only connection; waits up to ``wait_seconds`` for a writer to let go of the file."""
    if not Path(path).exists():
        raise NoWarehouse(f"no warehouse at {path}: run `orbit run` (or `orbit demo`) first")
    deadline = time.monotonic() + wait_seconds
    waited = False
    while True:
        try:
            con = connect(path, read_only=True)
            break
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"{path} stayed locked by a writing run for {wait_seconds:.0f} s; "
                                    "try again when it has finished") from None
            if not waited:
                log.info("a run is writing %s; waiting for it to let go (up to %.0f s)", path, wait_seconds)
                waited = True
            time.sleep(poll_seconds)
    try:
        return load_frames(con, columns), latest_activity_at(con)
    finally:
        con.close()
