"""Representations derived from a dataset's single declaration in :mod:`schemas.contracts`."""

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
}
_DUCKDB = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "decimal": "DECIMAL(38,9)",
    "money": "DECIMAL(18,2)",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}
#: Lineage columns every loaded row carries, with their DuckDB and polars types.
LINEAGE: dict[str, tuple[str, pl.DataType]] = {
    "_file": ("VARCHAR", pl.Utf8()),
    "_line": ("BIGINT", pl.Int64()),
    "_sha256": ("VARCHAR", pl.Utf8()),
    "_row_hash": ("UHUGEINT", pl.UInt128()),
    "extra": ("JSON", pl.Utf8()),
}


def polars_dtype(col: Column) -> pl.DataType:
    return _POLARS[col.type]


def duckdb_type(col: Column) -> str:
    return _DUCKDB[col.type]


def polars_schema(ds: Dataset | str, *, lineage: bool = False) -> pl.Schema:
    ds = DATASETS[ds] if isinstance(ds, str) else ds
    schema = {c.name: polars_dtype(c) for c in ds.columns}
    if lineage:
        schema.update({k: v[1] for k, v in LINEAGE.items()})
    return pl.Schema(schema)


def key_expr_sql(ds: Dataset, alias: str = "") -> str:
    """SQL expression identifying a row's key (nullable key parts are coalesced to '')."""
    p = f"{alias}." if alias else ""
    parts = []
    for k in ds.key:
        col = ds.column(k)
        parts.append(f"coalesce(CAST({p}{k} AS VARCHAR), '')" if col.nullable else f"CAST({p}{k} AS VARCHAR)")
    return " || chr(31) || ".join(parts)


def ddl(ds: Dataset | str, table: str | None = None, *, history: bool = False) -> str:
    """CREATE TABLE for a dataset's current table (or its history table)."""
    ds = DATASETS[ds] if isinstance(ds, str) else ds
    name = table or (f"{ds.name}_history" if history else ds.name)
    cols = [f"    {c.name} {duckdb_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in ds.columns]
    cols += [f"    {k} {v[0]}" for k, v in LINEAGE.items()]
    cols.append("    _loaded_at TIMESTAMPTZ NOT NULL")
    if history:
        cols.append("    _superseded_at TIMESTAMPTZ NOT NULL")
        cols.append("    _superseded_by VARCHAR NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(cols) + "\n)"
