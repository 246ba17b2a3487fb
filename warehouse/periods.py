"""Period state in the warehouse: open or closed (frozen on one run), pending restatement, restatements.

A closed period's marts are never rewritten by an evaluation; only a reopen replaces them,
recording per employee what changed (``restatements``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from schemas.marts import MARTS
from transforms.periods import parse_period
from transforms.restatement import PeriodStateError
from warehouse.db import insert_rows, query_frame

#: the columns of ``period_status`` (a contract: `orbit status` and analysts read them from the snapshot)
PERIOD_STATUS_COLUMNS = MARTS["period_status"].column_names


@dataclass(frozen=True)
class ClosedPeriod:
    period: str
    run_id: str
    figures: pl.DataFrame  # per employee: employee_id, composite, composite_exact, multiplier_exact, bonus_amount


def inputs_digest(hashes: list[str]) -> str:
    """One SHA-256 over the sorted SHA-256s of a run's input files."""
    return hashlib.sha256(",".join(sorted(hashes)).encode()).hexdigest()


def record_run_inputs(con: duckdb.DuckDBPyConnection, run_id: str, hashes: list[str]) -> None:
    con.execute("INSERT INTO run_inputs VALUES (?, ?) ON CONFLICT DO NOTHING", [run_id, inputs_digest(hashes)])


def run_inputs_digest(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> str | None:
    """The input digest of the run(s) that made some rows (None when a run predates the record)."""
    rows = con.execute("SELECT run_id, input_hashes FROM run_inputs WHERE list_contains(?, run_id) ORDER BY run_id",
                       [run_ids]).fetchall()
    if len(rows) != len(set(run_ids)):
        return None
    return rows[0][1] if len(rows) == 1 else inputs_digest([h for _, h in rows])


def period_figures(con: duckdb.DuckDBPyConnection, period: str) -> pl.DataFrame:
    """The stored per-employee figures of a period (what a restatement compares against)."""
    return query_frame(
        con,
        """SELECT s.employee_id, s.composite, b.composite_exact, b.multiplier_exact, b.bonus_amount
           FROM employee_scores s JOIN bonus_lines b USING (period, employee_id)
           WHERE s.period = ? ORDER BY s.employee_id""",
        [period],
    )


def closed_run_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """closed period -> the run it was frozen on."""
    return dict(con.execute(
        "SELECT period, closed_run_id FROM period_status WHERE state = 'closed' ORDER BY period").fetchall())


def closed_periods(con: duckdb.DuckDBPyConnection) -> dict[str, ClosedPeriod]:
    return {p: ClosedPeriod(p, run_id, period_figures(con, p)) for p, run_id in closed_run_ids(con).items()}


def state_of(con: duckdb.DuckDBPyConnection, period: str) -> tuple[str, str | None]:
    """(state, closed_run_id) of a period; ('open', None) for one never closed."""
    row = con.execute("SELECT state, closed_run_id FROM period_status WHERE period = ?", [period]).fetchall()
    return (row[0][0], row[0][1]) if row else ("open", None)


def mark_evaluated(con: duckdb.DuckDBPyConnection, periods: list[str], coverage: dict | None = None) -> None:
    """Periods written by an evaluation appear as open (a closed one is never written), with what their data
    covers (``coverage``: period -> :class:`transforms.coverage.Coverage`)."""
    for p in periods:
        con.execute("INSERT INTO period_status (period) VALUES (?) ON CONFLICT DO NOTHING", [p])
        cov = (coverage or {}).get(p)
        if cov is not None:
            con.execute("UPDATE period_status SET partial = ?, partial_reason = ?, first_data_day = ?, "
                        "last_data_day = ? WHERE period = ?",
                        [cov.partial, cov.reason, cov.first_data_day, cov.last_data_day, p])


def partial_reason(con: duckdb.DuckDBPyConnection, period: str, today: dt.date | None) -> str | None:
    """Why ``period`` is partial now (None: it is complete): as its evaluation found it, or because it has
    not ended by ``today``."""
    row = con.execute("SELECT partial, partial_reason FROM period_status WHERE period = ?", [period]).fetchall()
    end = parse_period(period).end
    if today is not None and end > today:
        return f"it has not ended: it runs to {end}, today is {today}"
    if row and row[0][0]:
        return row[0][1] or "its data does not cover all of it"
    return None


def set_pending(con: duckdb.DuckDBPyConnection, pending: dict[str, bool], at: dt.datetime) -> None:
    """Flag closed periods that new data would change (keeping when that was first seen); clear the others."""
    for period, is_pending in pending.items():
        con.execute(
            """UPDATE period_status SET pending_restatement = ?,
                      pending_since = CASE WHEN ? THEN coalesce(pending_since, ?) END
               WHERE period = ? AND state = 'closed'""",
            [is_pending, is_pending, at, period],
        )


def check_close(con: duckdb.DuckDBPyConnection, period: str, *, today: dt.date | None = None,
                allow_partial: bool = False) -> str:
    """The run a close would freeze ``period`` on; :class:`PeriodStateError` if it cannot be closed: already
    closed, not evaluated, or partial (has not ended by ``today``, or its data does not cover it) unless
    ``allow_partial``."""
    state, run_id = state_of(con, period)
    if state == "closed":
        raise PeriodStateError(f"period {period} is already closed (run {run_id[:12]}); "
                               f"use `orbit reopen --period {period} --reason ...` to restate it")
    runs = [r[0] for r in con.execute(
        "SELECT DISTINCT run_id FROM employee_scores WHERE period = ? ORDER BY 1", [period]).fetchall()]
    if not runs:
        raise PeriodStateError(f"no evaluated results for period {period}; run `orbit run` (or `orbit evaluate "
                               f"--period {period}`) first")
    if len(runs) > 1:  # cannot happen: a period's marts are replaced as a whole
        raise PeriodStateError(f"period {period} holds rows of several runs; run `orbit evaluate --period {period}`")
    why = partial_reason(con, period, today)
    if why and not allow_partial:
        raise PeriodStateError(f"period {period} is partial ({why}); close it when it is complete, or anyway "
                               "with --allow-partial --reason TEXT")
    return runs[0]


def check_reopen(con: duckdb.DuckDBPyConnection, period: str) -> str:
    """The run ``period`` is closed on; :class:`PeriodStateError` if it is not closed."""
    state, run_id = state_of(con, period)
    if state != "closed":
        raise PeriodStateError(f"period {period} is not closed; nothing to reopen (`orbit close --period {period}` "
                               "closes it)")
    return run_id


def close_period(con: duckdb.DuckDBPyConnection, period: str, *, user: str, at: dt.datetime,
                 today: dt.date | None = None, allow_partial: bool = False) -> str:
    """Freeze a period on the run that produced its stored results; return that run_id (a partial period
    only with ``allow_partial``)."""
    run_id = check_close(con, period, today=today, allow_partial=allow_partial)
    con.execute(
        """INSERT INTO period_status (period, state, closed_run_id, closed_at, closed_by, pending_restatement,
                                      pending_since)
           VALUES (?, 'closed', ?, ?, ?, false, NULL)
           ON CONFLICT (period) DO UPDATE SET state = 'closed', closed_run_id = excluded.closed_run_id,
               closed_at = excluded.closed_at, closed_by = excluded.closed_by, pending_restatement = false,
               pending_since = NULL""",
        [period, run_id, at, user],
    )
    return run_id


def reopen_period(con: duckdb.DuckDBPyConnection, period: str, *, expected_run_id: str) -> None:
    """Open a closed period again (after its restatement was written in the same transaction)."""
    state, run_id = state_of(con, period)
    if state != "closed" or run_id != expected_run_id:
        raise PeriodStateError(f"period {period} changed state while it was being restated; run the reopen again")
    con.execute(
        """UPDATE period_status SET state = 'open', closed_run_id = NULL, closed_at = NULL, closed_by = NULL,
                  pending_restatement = false, pending_since = NULL WHERE period = ?""",
        [period],
    )


def insert_restatements(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    insert_rows(con, "restatements", rows)


def check_period(warehouse: Path, period: str, check: Callable[[duckdb.DuckDBPyConnection, str], str]) -> str:
    """Run :func:`check_close` or :func:`check_reopen` on the warehouse file: the run it names, or
    :class:`PeriodStateError` saying what to do."""
    from warehouse.db import open_warehouse

    with open_warehouse(warehouse) as con:
        return check(con, period)


def close_period_audited(con: duckdb.DuckDBPyConnection, period: str, *, user: str, at: dt.datetime,
                         today: dt.date | None = None, allow_partial: bool = False, reason: str | None = None) -> str:
    """Freeze ``period`` (:func:`close_period`) and audit it — partial or not, and why, with the ``reason`` —
    in one transaction; return the run_id."""
    from warehouse.audit import append_audit
    from warehouse.db import transaction

    with transaction(con):
        why = partial_reason(con, period, today)
        run_id = close_period(con, period, user=user, at=at, today=today, allow_partial=allow_partial)
        versions, employees = con.execute(
            "SELECT string_agg(DISTINCT plan_version, ',' ORDER BY plan_version), count(*) FROM employee_scores "
            "WHERE period = ?", [period]).fetchall()[0]
        detail = f"{employees} employee(s) frozen"
        if why:
            detail += f"; closed while partial ({why})"
        if reason:
            detail += f"; reason: {reason}"
        append_audit(con, "close_period", period=period, run_id=run_id, plan_version=versions,
                     input_hashes=run_inputs_digest(con, [run_id]), detail=detail)
    return run_id
