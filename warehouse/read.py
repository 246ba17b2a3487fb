"""Reading the warehouse into typed polars frames (see docs/dev/frames.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
from schemas.marts import frame_schema
from transforms.coverage import DATA_COLUMNS, no_data_message
from transforms.periods import Period
from warehouse.db import query_frame


def load_frames(con: duckdb.DuckDBPyConnection,
                columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, pl.DataFrame]:
    """The current version of every row of every dataset: its contract columns, or only ``columns[name]``
    (a subset of the contract's, in any order) where given."""
    frames = {}
    for name, ds in DATASETS.items():
        wanted = list(columns[name]) if columns and name in columns else ds.column_names
        unknown = sorted(set(wanted) - set(ds.column_names))
        if unknown:
            raise ValueError(f"{name} has no column(s) {', '.join(unknown)} in its contract")
        contract = polars_schema(ds)
        schema = {c: contract[c] for c in wanted}
        frame = query_frame(con, f"SELECT {', '.join(wanted)} FROM {name}")
        frames[name] = frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)
    return frames


def input_hashes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SHA-256 of every file whose rows are in the warehouse, sorted (part of a run's identity); a source's
    file read through a mapping as ``<file sha>:<mapping sha>`` (the same file under another mapping is
    other input)."""
    rows = con.execute("SELECT DISTINCT sha256 || coalesce(':' || mapping_sha256, '') FROM ingestion_log "
                       "WHERE status = 'loaded' ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def latest_activity_at(con: duckdb.DuckDBPyConnection):
    return con.execute("SELECT max(occurred_at) FROM activities").fetchall()[0][0]


def data_extent(con: duckdb.DuckDBPyConnection, start=None, end=None):
    """First and last instant (UTC) of the data (:data:`transforms.coverage.DATA_COLUMNS`) in
    ``[start, end)``, unbounded where None: the warehouse's answer to :func:`transforms.coverage.data_extent`."""
    lows, highs = [], []
    for table, column in DATA_COLUMNS.items():
        where = [f"{column} IS NOT NULL"] + ([f"{column} >= ?"] if start else []) + ([f"{column} < ?"] if end else [])
        lo, hi = con.execute(f"SELECT min({column}), max({column}) FROM {table} WHERE {' AND '.join(where)}",
                             [v for v in (start, end) if v]).fetchall()[0]
        if lo is not None:
            lows.append(lo)
            highs.append(hi)
    return (min(lows), max(highs)) if lows else (None, None)


def period_data_check(con: duckdb.DuckDBPyConnection, period: Period, tz: str) -> str | None:
    """None when ``period`` holds data; else one line saying it has none and what the data covers."""
    if data_extent(con, period.start_utc(tz), period.end_utc(tz))[0] is not None:
        return None
    return no_data_message(period.label, data_extent(con), tz)
def data_quality_findings(con: duckdb.DuckDBPyConnection, check: str) -> pl.DataFrame:
    """The ``data_quality`` rows of one check (of the warehouse or a snapshot), with the declared columns
    a transform produces; empty when the table does not exist yet."""
    schema = frame_schema("data_quality")
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'data_quality' "
                       "AND table_schema = 'main'").fetchall()[0][0]:
        return pl.DataFrame(schema=schema)
    cols = ", ".join(f'"{c}"' for c in schema)
    frame = query_frame(con, f'SELECT {cols} FROM data_quality WHERE "check" = ? ORDER BY period, examples', [check])
    return frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)
