"""SQL text compiled from the contracts: the one identifier-quoting helper, literals, column types,
key expressions and each dataset's DDL.

:mod:`schemas` declares datasets (names, logical types, keys); this module is where those
declarations become DuckDB SQL. Every SQL string Orbit builds quotes names with :func:`ident`
and text with :func:`literal`.
"""

from __future__ import annotations

from schemas.contracts import DATASETS, Column, Dataset
from schemas.derive import LINEAGE
from schemas.marts import FIGURE_PLACES

#: DuckDB type of each logical type: of the input datasets (:mod:`schemas.contracts`), of the lineage
#: columns and of the output tables (:mod:`schemas.marts`; their polars types are there).
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "figure": f"DECIMAL(38,{FIGURE_PLACES})",
    "decimal": "DECIMAL(38,9)",
    "money": "DECIMAL(18,2)",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "hash": "UHUGEINT",
    "json": "JSON",
}


def ident(name: str) -> str:
    """A name (column, table, schema) as a quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: object) -> str:
    """Text (or a path) as a SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_type(logical: str) -> str:
    """The DuckDB type of a logical type name (``string``, ``money``, ``hash`` ...)."""
    return DUCKDB_TYPES[logical]


def duckdb_type(col: Column) -> str:
    return DUCKDB_TYPES[col.type]


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
    cols += [f"    {k} {sql_type(t)}" for k, t in LINEAGE.items()]
    cols.append("    _loaded_at TIMESTAMPTZ NOT NULL")
    if history:
        cols.append("    _superseded_at TIMESTAMPTZ NOT NULL")
        cols.append("    _superseded_by VARCHAR NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(cols) + "\n)"
