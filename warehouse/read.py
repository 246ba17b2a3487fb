"""Reading the warehouse into typed polars frames (see docs/dev/frames.md)."""

from __future__ import annotations

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
from warehouse.db import query_frame


def load_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """The current version of every row of every dataset, contract columns only."""
    frames = {}
    for name, ds in DATASETS.items():
        schema = polars_schema(ds)
        frame = query_frame(con, f"SELECT {', '.join(ds.column_names)} FROM {name}")
        frames[name] = frame.cast(dict(schema)) if frame.height else pl.DataFrame(schema=schema)
    return frames


def input_hashes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SHA-256 of every file whose rows are in the warehouse, sorted (part of a run's identity)."""
    rows = con.execute("SELECT DISTINCT sha256 FROM ingestion_log WHERE status = 'loaded' ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def latest_activity_at(con: duckdb.DuckDBPyConnection):
    return con.execute("SELECT max(occurred_at) FROM activities").fetchall()[0][0]
