"""What unattended operation needs from the warehouse: the rows a set of files changed, failed runs.

A failed run is recorded in ``run_failures`` and also added to the *last good* snapshot
(a copy with one more ``run_failures`` row, swapped in atomically): every data table an
analyst reads stays as it was published, and ``orbit status`` — which reads only the
snapshot — shows why the run failed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import astuple, dataclass
from pathlib import Path

import duckdb
import polars as pl

from warehouse.db import RUN_FAILURES_DDL, connect, query_frame
from warehouse.home import make_public
from warehouse.sql import ident


@dataclass(frozen=True)
class RunFailure:
    kind: str  # run | ingest | evaluate | ...
    flow_run_id: str | None
    started_at: dt.datetime
    failed_at: dt.datetime
    error_type: str
    message: str


def record_failure(con: duckdb.DuckDBPyConnection, failure: RunFailure) -> None:
    """Append a failed run to ``run_failures`` (of the warehouse or of a snapshot copy)."""
    con.execute(
        "INSERT INTO run_failures (kind, flow_run_id, started_at, failed_at, error_type, message) "
        "VALUES (?, ?, ?, ?, ?, ?)", list(astuple(failure)))


def add_failure_to_snapshot(snapshot: Path, failure: RunFailure) -> bool:
    """Swap in a copy of the published snapshot with ``failure`` appended to ``run_failures``.

    Returns False when nothing is published yet. Readers holding the old file keep it.
    """
    if not snapshot.exists():
        return False
    tmp = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.failure.tmp")
    shutil.copyfile(snapshot, tmp)
    try:
        con = connect(tmp)
        try:
            con.execute(RUN_FAILURES_DDL)  # a snapshot published before run_failures existed
            record_failure(con, failure)
            if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'snapshot_info'"
                           ).fetchall()[0][0]:  # keep the snapshot's own row counts true
                con.execute("UPDATE snapshot_info SET rows = (SELECT count(*) FROM run_failures) "
                            "WHERE table_name = 'run_failures'")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        make_public(tmp)
        os.replace(tmp, snapshot)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return True


def rows_from_files(con: duckdb.DuckDBPyConnection, dataset: str, columns: list[str],
                    files: list[str] | None = None) -> pl.DataFrame:
    """``columns`` of the current rows of ``dataset`` (only those loaded from ``files``, when given)."""
    cols = ", ".join(ident(c) for c in columns)
    if files is None:
        return query_frame(con, f"SELECT {cols} FROM {dataset}")
    return query_frame(con, f"SELECT {cols} FROM {dataset} WHERE list_contains(?, _file)", [files])
