"""The analysts' snapshot: ``published/analytics.duckdb``, written fresh and swapped in atomically.

Analysts never open the warehouse (DuckDB allows one writer or many readers, never
both). The writer builds a new snapshot file beside the published one from inside its
own connection (``ATTACH``), in a storage format DuckDB 1.4+ clients read, then
``os.replace``-s it over the old one: a reader holding the old file keeps a consistent
view, the next reader opens the new one. Parquet copies of the same tables go to a new
folder ``published/parquet.<generation>/``; the symlink ``published/parquet`` is then
swapped to it atomically (superseded folders are removed after a grace period, so a
reader that resolved the link keeps a consistent set of files).

The snapshot never holds names, bonus targets, bonus amounts, quarantined raw rows or
the employees dataset's ``extra`` JSON: it is built from an allow-list of columns.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import duckdb

from schemas.contracts import DATASETS

log = logging.getLogger(__name__)
STORAGE_VERSION = "v1.4.0"  # readable by DuckDB 1.4 and later (DBeaver, duckdb CLI)
PARQUET_LINK = "parquet"  # published/parquet -> parquet.<generation>/<table>.parquet
PARQUET_GRACE = dt.timedelta(minutes=15)  # superseded Parquet folders live this long for readers still on them

#: table -> (columns to publish, or "*" for all) and its description.
PUBLISHED_TABLES: dict[str, tuple[list[str] | str, str]] = {
    "employee_scores": ("*", "one row per employee and period: composite score, payout multiplier, completeness"),
    "evaluation_matrix": ("*", "one row per employee, period and metric: actual, target, achievement, weight"),
    "department_matrix": ("*", "mean achievement per department, period and metric"),
    "attribution_credits": ("*", "credit of each won opportunity's amount to the employees who touched it"),
    "attribution_department_values": ("*", "department values (share, Shapley value or removal effect) per period and model"),
    "data_quality": ("*", "orphan references and other data problems found at evaluation"),
    "ingestion_log": ("*", "one row per delivered file: rows read, loaded, quarantined, duplicate"),
    "quarantine": (["dataset", "file", "line", "reason", "details", "quarantined_at"],
                   "rows refused at ingest: where they were and why (raw values are not published)"),
    "runs": ("*", "pipeline runs and their outcome"),
    "run_failures": ("*", "runs that failed: kind, Prefect flow run id, when, error type and message"),
    "restatements": (["period", "employee_id", "old_run_id", "new_run_id", "old_composite", "new_composite",
                      "reason", "restated_at"], "changes to closed periods (figures, not money)"),
    "period_status": (["period", "state", "closed_run_id", "closed_at", "closed_by", "pending_restatement",
                       "pending_since"], "open or closed periods; closed ones keep the closed run's results"),
    "employees": (["employee_id", "department", "role", "manager_id", "fte", "effective_from", "effective_to"],
                  "roster without names or compensation"),
    **{name: ([c for c in ds.column_names] + ["_file", "_line"], ds.doc)
       for name, ds in DATASETS.items() if name != "employees"},
}

VIEWS: dict[str, tuple[str, str]] = {
    "scores_by_department": (
        """SELECT period, department, count(*) AS employees, avg(composite) AS mean_composite,
                  median(composite) AS median_composite, avg(payout_multiplier) AS mean_multiplier,
                  count(*) FILTER (WHERE incomplete) AS incomplete_rows
           FROM employee_scores GROUP BY period, department ORDER BY period, department""",
        "composite scores by department and period",
    ),
    "contribution_by_department": (
        """SELECT period, department, model, sum(credit) AS credit, count(DISTINCT opportunity_id) AS opportunities,
                  sum(credit) / sum(sum(credit)) OVER (PARTITION BY period, model) AS share
           FROM attribution_credits GROUP BY period, department, model ORDER BY period, credit DESC""",
        "where the commercial result came from: credited won amount by department",
    ),
    "data_quality_summary": (
        """SELECT dataset, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
                  sum(rows_quarantined) AS rows_quarantined, sum(rows_duplicate) AS rows_duplicate,
                  count(*) FILTER (WHERE status = 'rejected') AS files_rejected
           FROM ingestion_log GROUP BY dataset ORDER BY dataset""",
        "loaded vs quarantined rows per dataset",
    ),
}

#: Column names that must never appear in the snapshot.
FORBIDDEN_COLUMNS = {"full_name", "bonus_target", "bonus_amount", "raw", "old_bonus_amount", "new_bonus_amount",
                     "difference"}


#: Descriptions of the marts' columns (a column named in several marts means the same everywhere).
MART_COLUMN_DOCS = {
    "period": "evaluation period, 2026-07 (month) or 2026-Q3 (quarter), in the plan's timezone",
    "employee_id": "employee id", "department": "department (as of the last employed day in the period)",
    "role": "role (as of the last employed day in the period)", "metric": "the plan's metric name",
    "actual": "the employee's actual for the metric (rounded for display; see actual_exact)",
    "target": "target in force (targets dataset: employee row, else department row, else the plan default)",
    "target_source": "where the target came from: employee | department | plan",
    "achievement": "actual/target (higher) or target/actual (lower), clipped to [0, cap]",
    "cap": "achievement cap for the metric", "direction": "higher or lower is better",
    "weight": "the plan's weight for the metric", "effective_weight": "weight after renormalising over the metrics kept",
    "weighted_score": "effective_weight x achievement; composite = the sum over the employee's metrics",
    "included": "false when the metric was removed (no actual or no target)", "reason": "why a metric was removed",
    "detail": "how the actual was made, in words",
    "composite": "Σ effective_weight x achievement (display; exact value in composite_exact)",
    "payout_multiplier": "payout curve at the exact composite", "incomplete": "true when a metric was removed",
    "incomplete_reason": "which metrics were removed and why",
    "plan_version": "version of the plan that produced the row", "run_id": "hash of the input files and the plan",
    "opportunity_id": "won opportunity credited", "model": "attribution model",
    "credit": "money credited to the employee (cents; an opportunity's credits sum to its amount)",
    "share": "the employee's exact share of the opportunity's amount", "value": "department value under the model",
    "mean_achievement": "mean achievement over the employees for whom the metric counted",
    "employees": "number of employees", "check": "data-quality check", "rows": "rows failing the check",
    "examples": "a few failing values",
    "state": "open or closed", "closed_run_id": "run whose results the closed period keeps",
    "closed_at": "when the period was closed", "closed_by": "who closed it (login name)",
    "pending_restatement": "true when data that arrived after the close would change the period's results",
    "pending_since": "when that was first seen",
    "old_run_id": "run of the figures before the restatement", "new_run_id": "run of the restated figures",
    "old_composite": "composite before the restatement", "new_composite": "composite after the restatement",
    "restated_at": "when the period was reopened and restated",
    "table_name": "published table", "generation": "publish generation (the same in every row of one snapshot)",
    "published_at": "when the snapshot was published",
}
#: Where a column means something particular in one table.
TABLE_COLUMN_DOCS = {
    ("restatements", "reason"): "why HR reopened the period",
    ("snapshot_info", "rows"): "rows in the table in this snapshot",
}


def _column_docs() -> dict[tuple[str, str], str]:
    docs = {(name, c.name): c.doc for name, ds in DATASETS.items() for c in ds.columns}
    docs.update({(t, "_file"): "landing file the row came from" for t in DATASETS})
    docs.update({(t, "_line"): "line of the row in that file" for t in DATASETS})
    docs.update(TABLE_COLUMN_DOCS)
    return docs


def _sql_text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def publish_snapshot(con: duckdb.DuckDBPyConnection, target: Path) -> dict[str, int]:
    """Write a fresh snapshot (and its Parquet copies) next to ``target`` and swap both in atomically.
    Returns row counts. ``con`` must not be in an open transaction: a second cursor reads the warehouse."""
    target.parent.mkdir(parents=True, exist_ok=True)
    generation = time.time_ns()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    parquet = target.parent / f"{PARQUET_LINK}.{generation}"
    parquet.mkdir()
    main = con.execute("SELECT current_database()").fetchall()[0][0]
    selects = {table: f'SELECT {"*" if columns == "*" else ", ".join(_quoted(c) for c in columns)} '
                      f'FROM {_quoted(main)}.{_quoted(table)}' for table, (columns, _) in PUBLISHED_TABLES.items()}
    con.execute(f"ATTACH {_sql_text(tmp)} AS snap (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        # DuckDB writes a Parquet file on about one thread but fills a table on all of them: a second
        # cursor writes the published tables' Parquet copies from the warehouse (the same SELECTs, so the
        # same rows: this connection is the warehouse's only writer) while the snapshot's tables fill.
        copier = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                copies = pool.submit(_write_parquet, copier, {t: f"({q})" for t, q in selects.items()}, parquet)
                try:
                    counts = _fill_snapshot(con, main, selects, generation)
                except BaseException:
                    copier.interrupt()
                    wait([copies])  # its own error, if any, would only hide this one
                    raise
                copies.result()
        finally:
            copier.close()
        _write_parquet(con, {t: f"snap.{_quoted(t)}" for t in ("snapshot_info", "data_dictionary")}, parquet)
        con.execute("CHECKPOINT snap")
    except BaseException:
        shutil.rmtree(parquet, ignore_errors=True)
        raise
    finally:
        con.execute("DETACH snap")
    os.replace(tmp, target)
    _swap_link(target.parent / PARQUET_LINK, parquet)
    log.info("published %s and %s (%d tables, generation %d)", target, parquet, len(counts), generation)
    return counts


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _write_parquet(con: duckdb.DuckDBPyConnection, sources: dict[str, str], folder: Path) -> None:
    """``COPY source TO folder/<table>.parquet`` for each table -> source (a table, or a query in parentheses)."""
    for table, source in sources.items():
        con.execute(f"COPY {source} TO {_sql_text(folder / f'{table}.parquet')} (FORMAT parquet)")


def _fill_snapshot(con: duckdb.DuckDBPyConnection, main: str, selects: dict[str, str], generation: int
                   ) -> dict[str, int]:
    """Fill the attached ``snap``: the published tables, the views, ``snapshot_info`` and ``data_dictionary``.
    Returns the tables' row counts."""
    counts: dict[str, int] = {}
    dictionary = []
    docs = _column_docs()
    for table, (_, doc) in PUBLISHED_TABLES.items():
        con.execute(f"CREATE TABLE snap.{_quoted(table)} AS {selects[table]}")
        counts[table] = con.execute(f"SELECT count(*) FROM snap.{_quoted(table)}").fetchall()[0][0]
        dictionary.append((table, None, "table", doc))
    con.execute("USE snap")
    try:
        for view, (sql, doc) in VIEWS.items():
            con.execute(f'CREATE VIEW "{view}" AS {sql}')
            dictionary.append((view, None, "view", doc))
        con.execute("CREATE TABLE snapshot_info (generation BIGINT, published_at TIMESTAMPTZ, "
                    "table_name VARCHAR, rows BIGINT)")
        published_at = dt.datetime.now(dt.timezone.utc)
        con.executemany("INSERT INTO snapshot_info VALUES (?, ?, ?, ?)",
                        [(generation, published_at, t, n) for t, n in counts.items()])
        dictionary += [("snapshot_info", None, "table", "this snapshot: its generation, time and row counts"),
                       ("data_dictionary", None, "table", "every table, view and column, described")]
        cols = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'snap' ORDER BY table_name, ordinal_position"
        ).fetchall()
        for table, column, dtype in cols:
            if column in FORBIDDEN_COLUMNS:
                raise RuntimeError(f"refusing to publish {table}.{column}: compensation or raw data")
            dictionary.append((table, column, dtype, docs.get((table, column)) or MART_COLUMN_DOCS.get(column, "")))
        con.execute(
            "CREATE TABLE data_dictionary (table_name VARCHAR, column_name VARCHAR, type VARCHAR, description VARCHAR)"
        )
        con.executemany("INSERT INTO data_dictionary VALUES (?, ?, ?, ?)", dictionary)
    finally:
        con.execute(f"USE {_quoted(main)}")
    return counts


def _swap_link(link: Path, folder: Path) -> None:
    """Point ``link`` at ``folder`` atomically; remove folders superseded more than PARQUET_GRACE ago."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name, target_is_directory=True)
    previous = link.parent / os.readlink(link) if link.is_symlink() else None
    os.replace(tmp, link)
    if previous is not None and previous.is_dir():
        os.utime(previous)  # its mtime now says when it was superseded
    cutoff = time.time() - PARQUET_GRACE.total_seconds()
    for old in folder.parent.glob(f"{link.name}.*"):
        if old != folder and old.is_dir() and not old.is_symlink() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
