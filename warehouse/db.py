"""Every DuckDB connection Orbit opens, and the warehouse's migrations.

The pipeline is the warehouse file's only writer. Analysts never open it: they read
the published snapshot (:mod:`warehouse.publish`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from schemas.marts import MARTS, Mart, MartColumn, check_columns
from warehouse.home import make_private
from warehouse.sql import DUCKDB_TYPES, ddl, ident, literal

log = logging.getLogger(__name__)

#: How information_schema.columns reports those types (for the check of existing tables).
_REPORTED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def _literal(value: str | bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return literal(value)


def column_sql(col: MartColumn, *, constraints: bool = True) -> str:
    """``name TYPE [DEFAULT ...] [NOT NULL]`` of a declared column."""
    sql = f"{ident(col.name)} {DUCKDB_TYPES[col.type]}"
    if col.sequence is not None:
        sql += f" DEFAULT nextval({_literal(col.sequence)})"
    elif col.default is not None:
        sql += f" DEFAULT {_literal(col.default)}"
    if constraints and not col.nullable:
        sql += " NOT NULL"
    return sql


def table_ddl(mart: Mart) -> list[str]:
    """The statements creating a declared table (and the sequences its columns draw from)."""
    statements = [f"CREATE SEQUENCE IF NOT EXISTS {ident(c.sequence)}" for c in mart.columns if c.sequence]
    cols = [column_sql(c) for c in mart.columns]
    if mart.primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(ident(k) for k in mart.primary_key)})")
    statements.append(f"CREATE TABLE IF NOT EXISTS {ident(mart.name)} (\n    "
                      + ",\n    ".join(cols) + "\n)")
    return statements


#: A failed run and why (no data values: error type and message only). Published, and added to the
#: last good snapshot when a run fails (warehouse.operations), so `orbit status` shows it.
RUN_FAILURES_DDL = table_ddl(MARTS["run_failures"])[-1]

#: Numbered migrations keep what a declaration cannot say (data changes, renames). The tables declared in
#: schemas/marts.py are created from their declaration, and extended with newly declared columns, on every
#: migrate (:func:`sync_declared_tables`); versions 2 to 4 were such tables and columns.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "datasets, history, ledger, quarantine and marts",
        [ddl(d) for d in DATASETS.values()] + [ddl(d, history=True) for d in DATASETS.values()],
    ),
    (2, "period close: period_status, the inputs of each run", []),
    (3, "unattended operation: why runs failed", []),
    (4, "ingest: where each rejected file goes (ledgered before the move, so a crash in between is recovered)", []),
]


class SchemaDrift(RuntimeError):
    """An existing table's column has another type than its declaration: that needs a numbered migration."""


def sync_declared_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the declared tables that do not exist yet and add the declared columns an existing table lacks
    (without NOT NULL: rows written before have none; the writers check new rows). Raises :class:`SchemaDrift`
    when an existing column's type differs from its declaration. Returns what was done."""
    existing: dict[str, dict[str, str]] = {}
    for table, column, dtype in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database()").fetchall():
        existing.setdefault(table, {})[column] = dtype
    statements, done = [], []
    for mart in MARTS.values():
        if not mart.in_warehouse:
            continue
        have = existing.get(mart.name)
        if have is None:
            statements += table_ddl(mart)
            done.append(f"created {mart.name}")
            continue
        for col in mart.columns:
            declared = DUCKDB_TYPES[col.type]
            if col.name not in have:
                if col.sequence is not None:
                    statements.append(f"CREATE SEQUENCE IF NOT EXISTS {ident(col.sequence)}")
                statements.append(f"ALTER TABLE {ident(mart.name)} ADD COLUMN "
                                  f"{column_sql(col, constraints=False)}")
                done.append(f"added {mart.name}.{col.name}")
            elif have[col.name] != _REPORTED.get(declared, declared):
                raise SchemaDrift(f"{mart.name}.{col.name} is {have[col.name]} in the warehouse but declared "
                                  f"{declared} (schemas/marts.py): changing a type needs a numbered migration")
    if statements:
        with transaction(con):
            for sql in statements:
                con.execute(sql)
        for what in done:
            log.info("warehouse: %s", what)
    return done


class WarehouseBusy(OSError):
    """Another process holds the warehouse (DuckDB allows one writer); an I/O condition worth retrying."""


#: The errors a retry can fix (what :mod:`flows.retry` retries): the OS's and DuckDB's I/O errors
#: (:class:`WarehouseBusy` is an OSError).
IO_ERRORS: tuple[type[BaseException], ...] = (OSError, duckdb.IOException)


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with Orbit's session settings (UTC, bounded memory)."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    # A writer finding the file open read-only waits a little: readers that write nothing (`orbit simulate`,
    # `orbit explain`) hold it for a short read and must not make a pipeline run fail.
    deadline = time.monotonic() + (0 if read_only else float(os.environ.get("ORBIT_READER_WAIT_SECONDS", "10")))
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as e:
            if time.monotonic() < deadline and "lock" in str(e).lower():
                time.sleep(0.05)
                continue
            raise WarehouseBusy(
                f"cannot open {path}: {e}. Another Orbit process is writing it; wait for it to finish. "
                "Analysts should open the published snapshot (published/analytics.duckdb), never the warehouse."
            ) from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{os.environ.get('ORBIT_MEMORY_LIMIT', '4GB')}'")
    return con


def connect_memory() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB (nothing stored) with Orbit's session time zone: SQL over frames."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations; return the schema version."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
    )
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, description, statements in MIGRATIONS:
        if version in done:
            continue
        with transaction(con):
            for sql in statements:
                con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, description) VALUES (?, ?)", [version, description])
        log.info("warehouse migrated to version %s: %s", version, description)
    sync_declared_tables(con)
    return max(v for v, _, _ in MIGRATIONS)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextlib.contextmanager
def open_warehouse(path: str | Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, migrated (when writable), closed on exit."""
    con = connect(path, read_only=read_only)
    try:
        if not read_only:
            make_private(path)  # names, bonus targets and amounts: the owner's alone
            migrate(con)
        yield con
    finally:
        con.close()


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append ``frame`` to the declared ``table`` (schemas/marts.py). The frame must carry exactly the
    declared columns (one with a default may be left out) with no null where the declaration forbids it:
    otherwise :class:`schemas.marts.ColumnMismatch` / ``ValueError`` naming them, and nothing is written."""
    check_columns(table, frame.columns)
    mart = MARTS[table]
    nulls = [c.name for c in mart.columns if not c.nullable and c.name in frame.columns
             and frame.get_column(c.name).null_count()]
    if nulls:
        raise ValueError(f"rows for {table} have empty {', '.join(nulls)}, which its declaration "
                         "(schemas/marts.py) does not allow")
    if frame.height == 0:
        return
    con.register("_mart", frame)
    try:
        quoted = ", ".join(ident(c) for c in frame.columns)
        con.execute(f"INSERT INTO {ident(table)} ({quoted}) SELECT {quoted} FROM _mart")
    finally:
        con.unregister("_mart")


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """Run a query and return a polars DataFrame (DuckDB 2.0 results have no ``.pl()``)."""
    import polars as pl

    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table()) if params else pl.from_arrow(con.sql(sql).to_arrow_table())
