"""Every DuckDB connection Orbit opens, and the warehouse's migrations.

The pipeline is the warehouse file's only writer. Analysts never open it: they read
the published snapshot (:mod:`warehouse.publish`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from schemas.contracts import DATASETS
from schemas.derive import ddl

log = logging.getLogger(__name__)

# Marts (public names and leading columns are a contract for analysts).
_MARTS = [
    """CREATE TABLE IF NOT EXISTS evaluation_matrix (
        period VARCHAR NOT NULL, employee_id VARCHAR NOT NULL, department VARCHAR NOT NULL, metric VARCHAR NOT NULL,
        actual DECIMAL(38,12), target DECIMAL(38,12), achievement DECIMAL(38,12), weight DECIMAL(38,12),
        weighted_score DECIMAL(38,12), plan_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        role VARCHAR, direction VARCHAR, cap DECIMAL(38,12), effective_weight DECIMAL(38,12), included BOOLEAN,
        reason VARCHAR, detail VARCHAR, target_source VARCHAR, actual_exact VARCHAR, achievement_exact VARCHAR,
        effective_weight_exact VARCHAR, weighted_score_exact VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS employee_scores (
        period VARCHAR NOT NULL, employee_id VARCHAR NOT NULL, department VARCHAR NOT NULL, role VARCHAR,
        composite DECIMAL(38,12) NOT NULL, payout_multiplier DECIMAL(38,12) NOT NULL, incomplete BOOLEAN NOT NULL,
        incomplete_reason VARCHAR, plan_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        composite_exact VARCHAR, multiplier_exact VARCHAR)""",
    # Private: bonus arithmetic. Read only by the HR export and `orbit explain`; never published.
    """CREATE TABLE IF NOT EXISTS bonus_lines (
        period VARCHAR NOT NULL, employee_id VARCHAR NOT NULL, full_name VARCHAR, department VARCHAR NOT NULL,
        role VARCHAR, composite_exact VARCHAR NOT NULL, multiplier_exact VARCHAR NOT NULL,
        bonus_target DECIMAL(18,2), period_share VARCHAR, fte_days DECIMAL(38,9), days_in_period BIGINT,
        bonus_amount DECIMAL(18,2), currency VARCHAR, incomplete BOOLEAN NOT NULL,
        plan_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS department_matrix (
        period VARCHAR NOT NULL, department VARCHAR NOT NULL, metric VARCHAR NOT NULL,
        mean_achievement DECIMAL(38,12), employees BIGINT, plan_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS attribution_credits (
        period VARCHAR NOT NULL, opportunity_id VARCHAR NOT NULL, employee_id VARCHAR NOT NULL,
        department VARCHAR NOT NULL, model VARCHAR NOT NULL, credit DECIMAL(18,2) NOT NULL, share DECIMAL(38,12),
        plan_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS attribution_department_values (
        period VARCHAR NOT NULL, model VARCHAR NOT NULL, department VARCHAR NOT NULL, value DECIMAL(38,12),
        plan_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS data_quality (
        period VARCHAR, "check" VARCHAR NOT NULL, dataset VARCHAR NOT NULL, rows BIGINT NOT NULL,
        examples VARCHAR, run_id VARCHAR NOT NULL)""",
    """CREATE SEQUENCE IF NOT EXISTS ingestion_seq""",
    """CREATE TABLE IF NOT EXISTS ingestion_log (
        seq BIGINT NOT NULL DEFAULT nextval('ingestion_seq'), file VARCHAR NOT NULL, dataset VARCHAR,
        sha256 VARCHAR NOT NULL, rows_read BIGINT NOT NULL, rows_loaded BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL, rows_duplicate BIGINT NOT NULL, status VARCHAR NOT NULL,
        message VARCHAR, file_mtime TIMESTAMPTZ, ingested_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        dataset VARCHAR NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, line BIGINT,
        reason VARCHAR NOT NULL, details VARCHAR, raw JSON, quarantined_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ, status VARCHAR NOT NULL, periods VARCHAR, plan_version VARCHAR, message VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS restatements (
        period VARCHAR NOT NULL, employee_id VARCHAR NOT NULL, old_run_id VARCHAR, new_run_id VARCHAR,
        old_composite DECIMAL(38,12), new_composite DECIMAL(38,12), old_bonus_amount DECIMAL(18,2),
        new_bonus_amount DECIMAL(18,2), difference DECIMAL(18,2), reason VARCHAR, restated_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT NOT NULL, logged_at VARCHAR NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
        period VARCHAR, run_id VARCHAR, plan_version VARCHAR, input_hashes VARCHAR, output_sha256 VARCHAR,
        detail VARCHAR, prev_hash VARCHAR, row_hash VARCHAR NOT NULL)""",
]

#: A failed run and why (no data values: error type and message only). Published, and added to the
#: last good snapshot when a run fails (warehouse.operations), so `orbit status` shows it.
RUN_FAILURES_DDL = """CREATE TABLE IF NOT EXISTS run_failures (
    kind VARCHAR NOT NULL, flow_run_id VARCHAR, started_at TIMESTAMPTZ NOT NULL, failed_at TIMESTAMPTZ NOT NULL,
    error_type VARCHAR NOT NULL, message VARCHAR)"""

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "datasets, history, ledger, quarantine and marts",
        [ddl(d) for d in DATASETS.values()] + [ddl(d, history=True) for d in DATASETS.values()] + _MARTS,
    ),
    (
        2,
        "period close: period_status, the inputs of each run",
        [
            # One row per evaluated period; published as is (`orbit status` renders it).
            """CREATE TABLE IF NOT EXISTS period_status (
                period VARCHAR PRIMARY KEY, state VARCHAR NOT NULL DEFAULT 'open', closed_run_id VARCHAR,
                closed_at TIMESTAMPTZ, closed_by VARCHAR, pending_restatement BOOLEAN NOT NULL DEFAULT false,
                pending_since TIMESTAMPTZ)""",
            # Runs are content-addressed: the digest of the sorted SHA-256s of the files that made each run.
            "CREATE TABLE IF NOT EXISTS run_inputs (run_id VARCHAR PRIMARY KEY, input_hashes VARCHAR NOT NULL)",
        ],
    ),
    (3, "unattended operation: why runs failed", [RUN_FAILURES_DDL]),
    (
        4,
        "ingest: where each rejected file goes (ledgered before the move, so a crash in between is recovered)",
        ["ALTER TABLE ingestion_log ADD COLUMN IF NOT EXISTS quarantined_to VARCHAR"],
    ),
]


class WarehouseBusy(OSError):
    """Another process holds the warehouse (DuckDB allows one writer); an I/O condition worth retrying."""


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with Orbit's session settings (UTC, bounded memory)."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        raise WarehouseBusy(
            f"cannot open {path}: {e}. Another Orbit process is writing it; wait for it to finish. "
            "Analysts should open the published snapshot (published/analytics.duckdb), never the warehouse."
        ) from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{os.environ.get('ORBIT_MEMORY_LIMIT', '4GB')}'")
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
            migrate(con)
        yield con
    finally:
        con.close()


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """Run a query and return a polars DataFrame (DuckDB 2.0 results have no ``.pl()``)."""
    import polars as pl

    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table()) if params else pl.from_arrow(con.sql(sql).to_arrow_table())
