"""Representations derived from a dataset's single declaration in :mod:`schemas.contracts` (polars).

Its SQL forms (DDL, DuckDB types, key expressions) are compiled in :mod:`warehouse.sql`."""

from __future__ import annotations

import polars as pl

from schemas.contracts import DATASETS, Column, Dataset

_POLARS: dict[str, pl.DataType] = {
    "string": pl.Utf8(),
    "int": pl.Int64(),
    "decimal": pl.Decimal(38, 9),
    "money": pl.Decimal(18, 2),
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "hash": pl.UInt128(),
    "json": pl.Utf8(),
}
#: Lineage columns every loaded row carries, with their logical types (``warehouse.sql`` gives the DuckDB ones).
LINEAGE: dict[str, str] = {
    "_file": "string",
    "_line": "int",
    "_sha256": "string",
    "_row_hash": "hash",
    "extra": "json",
}


def polars_dtype(col: Column) -> pl.DataType:
    return _POLARS[col.type]


def polars_schema(ds: Dataset | str, *, lineage: bool = False) -> pl.Schema:
    ds = DATASETS[ds] if isinstance(ds, str) else ds
    schema = {c.name: polars_dtype(c) for c in ds.columns}
    if lineage:
        schema.update({k: _POLARS[t] for k, t in LINEAGE.items()})
    return pl.Schema(schema)
