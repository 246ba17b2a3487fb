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
the employees dataset's ``extra`` JSON: it is built from an allow-list of columns derived
from the declarations (a column is published only when declared publishable), and a
snapshot whose columns differ from that list is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import duckdb

from schemas.contracts import DATASETS, PUBLISHED_LINEAGE
from schemas.marts import MARTS, published_tables
from warehouse.db import table_ddl
from warehouse.home import make_public
from warehouse.sql import ident, literal

log = logging.getLogger(__name__)
STORAGE_VERSION = "v1.4.0"  # readable by DuckDB 1.4 and later (DBeaver, duckdb CLI)
PARQUET_LINK = "parquet"  # published/parquet -> parquet.<generation>/<table>.parquet
PARQUET_GRACE = dt.timedelta(minutes=15)  # superseded Parquet folders live this long for readers still on them

@dataclass(frozen=True)
class Published:
    """A table or view of the snapshot: its description and its columns' (name -> description)."""

    doc: str
    columns: dict[str, str]


def _published_tables() -> dict[str, Published]:
    """The allow-list, derived from the declarations: the published columns of every published table
    (schemas/marts.py) and of every input dataset (schemas/contracts.py). Nothing else is copied."""
    tables = {m.name: Published(m.doc, {c.name: c.doc for c in m.published_columns}) for m in published_tables()}
    for name, ds in DATASETS.items():
        columns = {c.name: c.doc for c in ds.columns if c.published}
        if ds.lineage_published:
            columns.update(PUBLISHED_LINEAGE)
        kept_out = [c.name for c in ds.columns if not c.published]
        tables[name] = Published(ds.doc + (f" (not published: {', '.join(kept_out)})" if kept_out else ""), columns)
    return tables


#: table -> what the snapshot copies of it (derived from the declarations; see :func:`_published_tables`).
PUBLISHED_TABLES: dict[str, Published] = _published_tables()


@dataclass(frozen=True)
class View:
    sql: str
    doc: str
    columns: dict[str, str]  # the view's columns, in order, and what they hold


VIEWS: dict[str, View] = {
    "scores_by_department": View(
        """SELECT period, department, count(*) AS employees, avg(composite) AS mean_composite,
                  median(composite) AS median_composite, avg(payout_multiplier) AS mean_multiplier,
                  count(*) FILTER (WHERE incomplete) AS incomplete_rows
           FROM employee_scores GROUP BY period, department ORDER BY period, department""",
        "composite scores by department and period",
        {"period": "evaluation period", "department": "department", "employees": "employees scored",
         "mean_composite": "mean composite score", "median_composite": "median composite score",
         "mean_multiplier": "mean payout multiplier", "incomplete_rows": "employees with a metric removed"},
    ),
    "contribution_by_department": View(
        """SELECT period, department, model, sum(credit) AS credit, count(DISTINCT opportunity_id) AS opportunities,
                  sum(credit) / sum(sum(credit)) OVER (PARTITION BY period, model) AS share
           FROM attribution_credits GROUP BY period, department, model ORDER BY period, credit DESC""",
        "where the commercial result came from: credited won amount by department",
        {"period": "evaluation period", "department": "department credited", "model": "attribution model",
         "credit": "won amount credited to the department's employees",
         "opportunities": "won opportunities the department was credited on",
         "share": "the department's share of the period's credited amount under the model"},
    ),
    "data_quality_summary": View(
        """SELECT dataset, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
                  sum(rows_quarantined) AS rows_quarantined, sum(rows_duplicate) AS rows_duplicate,
                  count(*) FILTER (WHERE status = 'rejected') AS files_rejected
           FROM ingestion_log GROUP BY dataset ORDER BY dataset""",
        "loaded vs quarantined rows per dataset",
        {"dataset": "dataset", "files": "files delivered", "rows_read": "data rows read",
         "rows_loaded": "rows loaded (new or changed)", "rows_quarantined": "rows refused (see quarantine)",
         "rows_duplicate": "rows already loaded or repeated", "files_rejected": "files that could not be read"},
    ),
}


def publish_snapshot(con: duckdb.DuckDBPyConnection, target: Path) -> dict[str, int]:
    """Write a fresh snapshot (and its Parquet copies) next to ``target`` and swap both in atomically.
    Returns row counts. ``con`` must not be in an open transaction: a second cursor reads the warehouse."""
    target.parent.mkdir(parents=True, exist_ok=True)
    generation = time.time_ns()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in target.parent.glob(f".{target.name}.*.tmp*"):  # of writers killed mid-publish: the
        leftover.unlink(missing_ok=True)                          # writer lock says none is still writing
    parquet = target.parent / f"{PARQUET_LINK}.{generation}"
    parquet.mkdir()
    main = con.execute("SELECT current_database()").fetchall()[0][0]
    selects = {table: f'SELECT {", ".join(ident(c) for c in published.columns)} '
                      f'FROM {ident(main)}.{ident(table)}' for table, published in PUBLISHED_TABLES.items()}
    con.execute(f"ATTACH {literal(tmp)} AS snap (STORAGE_VERSION '{STORAGE_VERSION}')")
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
        _write_parquet(con, {t: f"snap.{ident(t)}" for t in ("snapshot_info", "data_dictionary")}, parquet)
        con.execute("CHECKPOINT snap")
    except BaseException:
        shutil.rmtree(parquet, ignore_errors=True)
        raise
    finally:
        con.execute("DETACH snap")
    for path in (tmp, parquet, *parquet.iterdir()):  # the one part of a home analysts may read
        make_public(path)
    os.replace(tmp, target)
    _swap_link(target.parent / PARQUET_LINK, parquet)
    log.info("published %s and %s (%d tables, generation %d)", target, parquet, len(counts), generation)
    return counts


def _write_parquet(con: duckdb.DuckDBPyConnection, sources: dict[str, str], folder: Path) -> None:
    """``COPY source TO folder/<table>.parquet`` for each table -> source (a table, or a query in parentheses)."""
    for table, source in sources.items():
        con.execute(f"COPY {source} TO {literal(folder / f'{table}.parquet')} (FORMAT parquet)")


def _fill_snapshot(con: duckdb.DuckDBPyConnection, main: str, selects: dict[str, str], generation: int
                   ) -> dict[str, int]:
    """Fill the attached ``snap``: the published tables, the views, ``snapshot_info`` and ``data_dictionary``.
    Returns the tables' row counts."""
    counts: dict[str, int] = {}
    dictionary: list[tuple[str, str | None, str, str]] = []
    expected: dict[str, dict[str, str]] = {}  # every table and view of the snapshot -> its described columns
    for table, published in PUBLISHED_TABLES.items():
        con.execute(f"CREATE TABLE snap.{ident(table)} AS {selects[table]}")
        counts[table] = con.execute(f"SELECT count(*) FROM snap.{ident(table)}").fetchall()[0][0]
        dictionary.append((table, None, "table", published.doc))
        expected[table] = published.columns
    con.execute("USE snap")
    try:
        for name, view in VIEWS.items():
            con.execute(f"CREATE VIEW {ident(name)} AS {view.sql}")
            dictionary.append((name, None, "view", view.doc))
            expected[name] = view.columns
        for own in ("snapshot_info", "data_dictionary"):
            for sql in table_ddl(MARTS[own]):
                con.execute(sql)
            dictionary.append((own, None, "table", MARTS[own].doc))
            expected[own] = {c.name: c.doc for c in MARTS[own].columns}
        published_at = dt.datetime.now(dt.timezone.utc)
        con.executemany("INSERT INTO snapshot_info (generation, published_at, table_name, rows) VALUES (?, ?, ?, ?)",
                        [(generation, published_at, t, n) for t, n in counts.items()])
        cols = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'snap' ORDER BY table_name, ordinal_position"
        ).fetchall()
        found: dict[str, list[str]] = {}
        for table, column, dtype in cols:
            found.setdefault(table, []).append(column)
            dictionary.append((table, column, dtype, expected.get(table, {}).get(column, "")))
        for table in sorted(set(found) | set(expected)):
            if found.get(table, []) != list(expected.get(table, {})):
                raise RuntimeError(f"refusing to publish {table}: its columns {found.get(table, [])} are not the "
                                   f"declared publishable ones {list(expected.get(table, {}))}")
        con.executemany("INSERT INTO data_dictionary (table_name, column_name, type, description) "
                        "VALUES (?, ?, ?, ?)", dictionary)
    finally:
        con.execute(f"USE {ident(main)}")
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
