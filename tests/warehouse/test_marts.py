"""Writing the marts (warehouse.marts.write_period_marts): a period replaced as a whole, closed periods kept,
restatements written with their audit row, all in one transaction — on the tiny organisation's 2026-Q1."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from tests import tiny_org
from transforms.periods import parse_period
from transforms.quality import find_orphans
from warehouse.audit import verify_audit
from warehouse.db import open_warehouse
from warehouse.marts import MART_SOURCES, Restatement, write_period_marts
from warehouse.periods import PeriodStateError, close_period, state_of

T0 = dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.timezone.utc)
Q1 = tiny_org.PERIOD


@pytest.fixture(scope="module")
def result():
    return tiny_org.evaluate()


@pytest.fixture(scope="module")
def quality(result):
    return find_orphans(tiny_org.frames(), sorted(result.plan.metrics))


@pytest.fixture()
def con(tmp_path):
    with open_warehouse(tmp_path / "warehouse.duckdb") as con:
        yield con


def _write(con, results, run_id, quality, **kw):
    return write_period_marts(con, results, run_id=run_id, input_hashes=[f"{run_id}-input"], quality=quality,
                              started_at=T0, **kw)


def _rows(con, table: str, period: str = Q1) -> list[tuple]:
    return con.execute(f"SELECT run_id, plan_version, count(*) FROM {table} WHERE period = ? GROUP BY ALL",
                       [period]).fetchall()


def _other_period(result, label: str):
    """The same results relabelled as another period (a second period in the warehouse)."""
    relabel = {attr: getattr(result, attr).with_columns(period=pl.lit(label)) for attr in set(MART_SOURCES.values())}
    return dataclasses.replace(result, period=parse_period(label), **relabel)


def test_every_mart_gets_the_period_rows_with_plan_version_and_run_id(con, result, quality):
    assert _write(con, [result], "r1", quality) == [Q1]
    for table, attr in MART_SOURCES.items():
        assert _rows(con, table) == [("r1", "2026.1", getattr(result, attr).height)], table
    e1 = con.execute("SELECT composite_exact, multiplier_exact, bonus_amount, full_name FROM bonus_lines "
                     "WHERE employee_id = 'E1'").fetchall()
    assert e1 == [("2377001/2500000", "877001/1000000", Decimal("2631.00"), "Ana Ruiz")]
    credits = con.execute("SELECT employee_id, credit FROM attribution_credits ORDER BY employee_id").fetchall()
    assert credits == [("E1", Decimal("3333.34")), ("E2", Decimal("3333.33")), ("E3", Decimal("3333.33"))]
    assert con.execute("SELECT period, state FROM period_status").fetchall() == [(Q1, "open")]
    assert con.execute("SELECT run_id, kind, status, periods, plan_version, message FROM runs").fetchall() == [
        ("r1", "evaluate", "completed", Q1, "2026.1", None)]


def test_no_name_or_money_reaches_employee_scores(con, result, quality):
    _write(con, [result], "r1", quality)
    columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'employee_scores'").fetchall()}
    assert not columns & {"full_name", "bonus_target", "bonus_amount"}


def test_a_period_is_replaced_as_a_whole_and_other_periods_are_left_alone(con, result, quality):
    q4 = _other_period(result, "2025-Q4")
    _write(con, [q4, result], "r1", quality)
    shrunk = dataclasses.replace(result, scores=result.scores.filter(pl.col("employee_id") != "E4"),
                                 matrix=result.matrix.filter(pl.col("employee_id") != "E4"))
    assert _write(con, [shrunk], "r2", quality) == [Q1]
    assert _rows(con, "employee_scores") == [("r2", "2026.1", 3)]  # E4's row of r1 is gone, not left behind
    assert _rows(con, "evaluation_matrix") == [("r2", "2026.1", shrunk.matrix.height)]
    assert _rows(con, "employee_scores", "2025-Q4") == [("r1", "2026.1", 4)]


def test_data_quality_is_replaced_by_the_latest_run(con, result, quality):
    _write(con, [result], "r1", quality)
    _write(con, [result], "r2", quality.head(2))
    assert con.execute("SELECT DISTINCT run_id FROM data_quality").fetchall() == [("r2",)]
    assert con.execute("SELECT count(*) FROM data_quality").fetchall() == [(2,)]


def test_a_closed_period_is_kept_and_flagged_pending(con, result, quality):
    _write(con, [result], "r1", quality)
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)  # tiny_org's data covers part of Q1
    changed = dataclasses.replace(result, scores=result.scores.with_columns(composite=pl.lit(Decimal("0.1"))))
    assert _write(con, [changed], "r2", quality, pending={Q1: True}) == []
    assert _rows(con, "employee_scores") == [("r1", "2026.1", 4)]
    assert con.execute("SELECT state, closed_run_id, pending_restatement FROM period_status").fetchall() == [
        ("closed", "r1", True)]
    assert con.execute("SELECT run_id, periods, message FROM runs ORDER BY run_id").fetchall()[-1] == (
        "r2", "", f"closed, kept: {Q1}; pending restatement: {Q1}")


def test_a_period_closed_during_the_evaluation_keeps_its_results(con, result, quality, caplog):
    _write(con, [result], "r1", quality)
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)  # tiny_org's data covers part of Q1
    assert _write(con, [result], "r2", quality) == []  # the evaluation did not know it was closed
    assert _rows(con, "employee_scores") == [("r1", "2026.1", 4)]
    assert "was closed while it was being evaluated" in caplog.text


def test_a_restatement_rewrites_the_closed_period_reopens_it_and_audits_it(con, result, quality):
    _write(con, [result], "r1", quality)
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)  # tiny_org's data covers part of Q1
    rows = pl.DataFrame({"period": [Q1], "employee_id": ["E1"], "old_run_id": ["r1"], "new_run_id": ["r2"],
                         "old_composite": [Decimal("0.9")], "new_composite": [Decimal("0.9")],
                         "old_bonus_amount": [Decimal("10.00")], "new_bonus_amount": [Decimal("10.00")],
                         "difference": [Decimal("0.00")], "reason": ["late feedback"], "restated_at": [T0]})
    restatement = Restatement(Q1, "r1", "late feedback", rows, 0)
    assert _write(con, [result], "r2", quality, restatements=[restatement]) == [Q1]
    assert _rows(con, "employee_scores") == [("r2", "2026.1", 4)]
    assert state_of(con, Q1) == ("open", None)
    assert con.execute("SELECT employee_id, reason FROM restatements").fetchall() == [("E1", "late feedback")]
    [(action, period, run_id, detail)] = con.execute(
        "SELECT action, period, run_id, detail FROM audit_log").fetchall()
    assert (action, period, run_id) == ("reopen_period", Q1, "r2")
    assert "reason: late feedback; closed run r1; 0 of 1 employee(s) restated" == detail
    assert verify_audit(con) == []


def test_everything_or_nothing(con, result, quality):
    _write(con, [result], "r1", quality)
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)  # tiny_org's data covers part of Q1
    stale = Restatement(Q1, "r0", "wrong run", pl.DataFrame({"period": [Q1], "employee_id": ["E1"]}), 1)
    q4 = _other_period(result, "2025-Q4")
    with pytest.raises(PeriodStateError):
        _write(con, [q4, result], "r2", quality.head(1), restatements=[stale])
    assert _rows(con, "employee_scores", "2025-Q4") == []  # written before the failure, rolled back
    assert _rows(con, "employee_scores") == [("r1", "2026.1", 4)]
    assert con.execute("SELECT DISTINCT run_id FROM data_quality").fetchall() == [("r1",)]
    assert con.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]
    assert con.execute("SELECT count(*) FROM restatements").fetchall() == [(0,)]
    assert state_of(con, Q1) == ("closed", "r1")
