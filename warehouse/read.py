"""Reading the warehouse into typed polars frames (see docs/dev/frames.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
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
    """SHA-256 of every file whose rows are in the warehouse, sorted (part of a run's identity)."""
    rows = con.execute("SELECT DISTINCT sha256 FROM ingestion_log WHERE status = 'loaded' ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def latest_activity_at(con: duckdb.DuckDBPyConnection):
    return con.execute("SELECT max(occurred_at) FROM activities").fetchall()[0][0]
