"""Queries over the published snapshot (``published/analytics.duckdb``) that `orbit status`, `orbit demo`
and `orbit serve` show: read-only, so they never wait for (or block) a writing run.

They return plain rows; :mod:`orbit` presents them.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from transforms.quality import UNKNOWN_ACTIVITY_TYPE
from warehouse.db import connect
from warehouse.read import data_quality_findings
from warehouse.sources import waiting_in_ledger
from warehouse.sql import ident


class SnapshotUnavailable(OSError):
    """Nothing is published yet, or the snapshot keeps being replaced while it is opened."""


def open_snapshot(snapshot: Path) -> tuple[duckdb.DuckDBPyConnection, dt.datetime]:
    """A read-only connection to the snapshot and its publish time, from the file it opened (the publisher
    swaps files atomically: a snapshot replaced while opening is opened again)."""
    for _ in range(5):
        try:
            before = os.stat(snapshot)
        except FileNotFoundError:
            raise SnapshotUnavailable(
                f"nothing published yet ({snapshot} is missing); run `orbit run` (or `orbit demo`)") from None
        con = connect(snapshot, read_only=True)
        after = os.stat(snapshot)
        if after.st_ino == before.st_ino:
            return con, dt.datetime.fromtimestamp(int(before.st_mtime), dt.timezone.utc)
        con.close()  # swapped while opening: open the new one
    raise SnapshotUnavailable(f"{snapshot} keeps being replaced; try again when publishing has finished")


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
                .fetchall()[0][0])


# --------------------------------------------------------------------------- orbit status
@dataclass(frozen=True)
class DatasetStatus:
    name: str
    rows: int
    quarantined: int
    last_file: str | None
    ingested_at: dt.datetime | None
    last_row_time: object  # the newest value of the dataset's first event time (None: no rows or none declared)


@dataclass(frozen=True)
class StatusData:
    datasets: list[DatasetStatus]
    files: list[tuple]  # status, files, read, loaded, quarantined, duplicate, skipped
    runs: list[tuple]  # kind, status, started_at, finished_at, run_id (12), periods: the 5 latest
    failures: list[tuple] | None  # kind, failed_at, error_type, message, flow_run_id (None: no such table)
    periods: list[tuple]  # see _periods
    unknown_activity_types: pl.DataFrame  # data_quality rows of the unknown_activity_type check
    waiting: list[tuple[str, str]]  # (file, reason): files waiting for their source's mapping


def read_status(snapshot: Path) -> StatusData:
    """What `orbit status` shows, from the published snapshot only."""
    con = connect(snapshot, read_only=True)
    try:
        datasets = []
        for name, ds in DATASETS.items():
            last = next(iter(con.execute(
                "SELECT file, ingested_at FROM ingestion_log WHERE dataset = ? AND status = 'loaded' "
                "ORDER BY seq DESC LIMIT 1", [name]).fetchall()), None)
            table = ident(name)
            last_row = (con.execute(f"SELECT max({ident(ds.event_times[0])}) FROM {table}").fetchall()[0][0]
                        if ds.event_times else None)
            count = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            q = con.execute("SELECT count(*) FROM quarantine WHERE dataset = ?", [name]).fetchall()[0][0]
            datasets.append(DatasetStatus(name, count, q, last[0] if last else None, last[1] if last else None,
                                          last_row))
        waiting = waiting_in_ledger(con)
        skipped = "sum(rows_skipped)" if waiting or has_column(con, "ingestion_log", "rows_skipped") else "0"
        files = con.execute(
            "SELECT status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate), "
            f"{skipped} FROM ingestion_log GROUP BY status ORDER BY status").fetchall()
        runs = con.execute(
            "SELECT kind, status, started_at, finished_at, left(run_id, 12), periods FROM runs "
            "ORDER BY started_at DESC LIMIT 5").fetchall()
        failures = None
        if has_table(con, "run_failures"):
            failures = con.execute(
                "SELECT kind, failed_at, error_type, message, flow_run_id FROM run_failures "
                "ORDER BY failed_at DESC LIMIT 5").fetchall()
        return StatusData(datasets, files, runs, failures, _periods(con),
                          data_quality_findings(con, UNKNOWN_ACTIVITY_TYPE), waiting)
    finally:
        con.close()


def _periods(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every evaluated period with its state (``period_status``; all open in a snapshot without it), what its
    data covers and why it is partial: period, state, employees, incomplete, plan, closed_at, closed_by,
    pending (text), partial, first_data_day, last_data_day, partial_reason."""
    scores = ("SELECT period, count(*) AS employees, count(*) FILTER (WHERE incomplete) AS incomplete, "
              "any_value(plan_version) AS plan FROM employee_scores GROUP BY period")
    if not has_table(con, "period_status"):
        return con.execute(f"SELECT period, 'open', employees, incomplete, plan, NULL, NULL, NULL, NULL, NULL, NULL, "
                           f"NULL FROM ({scores}) ORDER BY period").fetchall()
    # a snapshot published before periods knew their coverage has no partial columns yet
    coverage = ("p.partial, p.first_data_day, p.last_data_day, p.partial_reason"
                if has_column(con, "period_status", "partial") else "NULL, NULL, NULL, NULL")
    return con.execute(
        f"""SELECT coalesce(p.period, s.period), coalesce(p.state, 'open'), s.employees, s.incomplete, s.plan,
                   p.closed_at, p.closed_by,
                   CASE WHEN p.pending_restatement THEN 'since ' || strftime(p.pending_since, '%Y-%m-%d %H:%M')
                   END, {coverage}
            FROM ({scores}) s FULL JOIN period_status p ON p.period = s.period ORDER BY 1""").fetchall()


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
                            [table, column]).fetchall()[0][0])


# --------------------------------------------------------------------------- orbit demo
@dataclass(frozen=True)
class DemoFigures:
    ingested: list[tuple]  # dataset, read, loaded, quarantined, duplicate
    reasons: list[tuple]  # reason, rows: every reason, the most frequent first
    contribution: list[tuple]  # department, credit, opportunities, top employee_id, their credit
    scores: tuple  # employees, mean composite, incomplete


def read_demo_figures(snapshot: Path, period: str) -> DemoFigures:
    """The figures `orbit demo` summarises, from the published snapshot."""
    con = connect(snapshot, read_only=True)
    try:
        ingested = con.execute(
            "SELECT dataset, sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate) "
            "FROM ingestion_log GROUP BY dataset ORDER BY dataset").fetchall()
        reasons = con.execute(
            "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1").fetchall()
        contribution = con.execute(
            """WITH d AS (SELECT department, sum(credit) AS credit, count(DISTINCT opportunity_id) AS opps
                          FROM attribution_credits WHERE period = ? GROUP BY department),
                    e AS (SELECT department, employee_id, sum(credit) AS credit,
                                 row_number() OVER (PARTITION BY department ORDER BY sum(credit) DESC, employee_id) AS rk
                          FROM attribution_credits WHERE period = ? GROUP BY department, employee_id)
               SELECT d.department, d.credit, d.opps, e.employee_id, e.credit
               FROM d JOIN e ON e.department = d.department AND e.rk = 1 ORDER BY d.credit DESC""",
            [period, period]).fetchall()
        scores = con.execute(
            "SELECT count(*), avg(composite), count(*) FILTER (WHERE incomplete) FROM employee_scores WHERE period = ?",
            [period]).fetchall()[0]
        return DemoFigures(ingested, reasons, contribution, scores)
    finally:
        con.close()


# --------------------------------------------------------------------------- orbit serve, deployments
def ledgered_files(snapshot: Path) -> set[str]:
    """The files the published ledger lists (empty when nothing is published)."""
    if not snapshot.exists():
        return set()
    con = connect(snapshot, read_only=True)
    try:
        return {f for (f,) in con.execute("SELECT DISTINCT file FROM ingestion_log").fetchall()}
    finally:
        con.close()


def published_periods(snapshot: Path, run_id: str) -> set[str]:
    """The periods a completed evaluation with ``run_id`` wrote, as the published snapshot records them."""
    if not snapshot.exists():
        return set()
    con = connect(snapshot, read_only=True)
    try:
        rows = con.execute("SELECT periods FROM runs WHERE run_id = ? AND kind = 'evaluate' AND status = 'completed'",
                           [run_id]).fetchall()
    finally:
        con.close()
    return {p for (listed,) in rows for p in (listed or "").split(",") if p}
