"""Period state in the warehouse (warehouse.periods): open/closed, the run a period is frozen on,
pending restatement, run inputs — on a real warehouse holding the tiny organisation's evaluated 2026-Q1."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import polars as pl
import pytest

from tests import tiny_org
from transforms.quality import find_orphans
from warehouse.db import open_warehouse
from warehouse.marts import write_period_marts
from warehouse.periods import (
    PeriodStateError,
    check_close,
    check_reopen,
    close_period,
    closed_periods,
    closed_run_ids,
    inputs_digest,
    insert_restatements,
    mark_evaluated,
    partial_reason,
    period_figures,
    record_run_inputs,
    reopen_period,
    run_inputs_digest,
    set_pending,
    state_of,
)

T0 = dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.timezone.utc)
Q1 = tiny_org.PERIOD


@pytest.fixture(scope="module")
def result():
    return tiny_org.evaluate()


@pytest.fixture()
def con(tmp_path, result):
    """A warehouse where 2026-Q1 was evaluated by run r1 (partial: the tiny organisation's data runs from
    10 January to 1 March; the tests that are not about that close it with allow_partial)."""
    with open_warehouse(tmp_path / "warehouse.duckdb") as con:
        quality = find_orphans(tiny_org.frames(), sorted(result.plan.metrics))
        write_period_marts(con, [result], run_id="r1", input_hashes=["h1", "h2"], quality=quality, started_at=T0)
        yield con


def _status(con) -> list[tuple]:
    return con.execute("SELECT period, state, closed_run_id, closed_by, pending_restatement, pending_since "
                       "FROM period_status ORDER BY period").fetchall()


def test_inputs_digest_is_one_sha256_over_the_sorted_hashes():
    assert inputs_digest(["b", "a"]) == inputs_digest(["a", "b"]) == hashlib.sha256(b"a,b").hexdigest()
    assert inputs_digest(["a"]) != inputs_digest(["a", "b"])


def test_run_inputs_are_recorded_once_and_combined_per_set_of_runs(con):
    assert run_inputs_digest(con, ["r1"]) == inputs_digest(["h1", "h2"])
    record_run_inputs(con, "r1", ["other"])  # a run's inputs never change: the first record stays
    assert run_inputs_digest(con, ["r1"]) == inputs_digest(["h1", "h2"])
    record_run_inputs(con, "r2", ["h3"])
    assert run_inputs_digest(con, ["r2", "r1"]) == inputs_digest([inputs_digest(["h1", "h2"]), inputs_digest(["h3"])])
    assert run_inputs_digest(con, ["r1", "r0"]) is None  # a run without a record: unknown, never a wrong digest


def test_an_evaluated_period_is_open(con):
    assert state_of(con, Q1) == ("open", None)
    assert state_of(con, "2025-Q4") == ("open", None)  # never seen: open too
    assert _status(con) == [(Q1, "open", None, None, False, None)]
    mark_evaluated(con, [Q1])  # idempotent
    assert closed_run_ids(con) == {}


def test_close_freezes_the_period_on_the_run_of_its_results(con):
    assert check_close(con, Q1, allow_partial=True) == "r1"
    assert close_period(con, Q1, user="hr@example.com", at=T0, allow_partial=True) == "r1"
    assert state_of(con, Q1) == ("closed", "r1")
    assert closed_run_ids(con) == {Q1: "r1"}
    [(period, state, run_id, by, pending, since)] = _status(con)
    assert (period, state, run_id, by, pending, since) == (Q1, "closed", "r1", "hr@example.com", False, None)
    mark_evaluated(con, [Q1])  # an evaluation never reopens a closed period
    assert state_of(con, Q1) == ("closed", "r1")


def test_closed_period_figures_are_the_stored_ones(con):
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)
    [frozen] = closed_periods(con).values()
    assert (frozen.period, frozen.run_id) == (Q1, "r1")
    assert frozen.figures.equals(period_figures(con, Q1))
    e1 = frozen.figures.filter(pl.col("employee_id") == "E1").row(0, named=True)
    assert (e1["composite_exact"], e1["multiplier_exact"], e1["bonus_amount"]) == (
        "2377001/2500000", "877001/1000000", Decimal("2631.00"))
    assert frozen.figures["employee_id"].to_list() == ["E1", "E2", "E3", "E4"]


def test_close_refuses_with_what_to_do(con):
    with pytest.raises(PeriodStateError, match=r"no evaluated results for period 2025-Q4; run `orbit run`"):
        check_close(con, "2025-Q4")
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)
    with pytest.raises(PeriodStateError, match=r"already closed \(run r1\).*orbit reopen --period 2026-Q1"):
        close_period(con, Q1, user="hr", at=T0, allow_partial=True)
    assert _status(con)[0][3] == "hr"  # the refused close changed nothing


def test_close_refuses_a_period_holding_rows_of_two_runs(con):
    con.execute("UPDATE employee_scores SET run_id = 'r2' WHERE employee_id = 'E1'")
    with pytest.raises(PeriodStateError, match="several runs"):
        check_close(con, Q1, allow_partial=True)


def test_reopen_needs_a_closed_period_on_the_expected_run(con):
    with pytest.raises(PeriodStateError, match="2026-Q1 is not closed; nothing to reopen"):
        check_reopen(con, Q1)
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)
    assert check_reopen(con, Q1) == "r1"
    with pytest.raises(PeriodStateError, match="changed state while it was being restated"):
        reopen_period(con, Q1, expected_run_id="r0")
    assert state_of(con, Q1) == ("closed", "r1")
    reopen_period(con, Q1, expected_run_id="r1")
    assert _status(con) == [(Q1, "open", None, None, False, None)]


def test_pending_restatement_keeps_when_it_was_first_seen_and_clears(con):
    close_period(con, Q1, user="hr", at=T0, allow_partial=True)
    later, even_later = T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)
    set_pending(con, {Q1: True}, later)
    set_pending(con, {Q1: True}, even_later)
    assert _status(con)[0][4:] == (True, later)
    set_pending(con, {Q1: False}, even_later)
    assert _status(con)[0][4:] == (False, None)


def test_pending_is_only_ever_set_on_a_closed_period(con):
    set_pending(con, {Q1: True}, T0)
    assert _status(con)[0][4:] == (False, None)


def test_restatement_rows_are_inserted_by_column_name(con):
    from schemas.marts import ColumnMismatch, frame_schema

    insert_restatements(con, pl.DataFrame(schema=frame_schema("restatements")))  # nothing: no-op
    assert con.execute("SELECT count(*) FROM restatements").fetchall() == [(0,)]
    with pytest.raises(ColumnMismatch, match="missing .*old_run_id"):  # the declared columns, all of them
        insert_restatements(con, pl.DataFrame(schema={"period": pl.Utf8, "employee_id": pl.Utf8}))
    row = {"reason": "late data", "difference": Decimal("-10.00"), "employee_id": "E1", "period": Q1,
           "old_run_id": "r1", "new_run_id": "r2", "old_composite": Decimal("1"), "new_composite": Decimal("0.9"),
           "old_bonus_amount": Decimal("100.00"), "new_bonus_amount": Decimal("90.00"),
           "restated_at": dt.datetime(2026, 4, 3, tzinfo=dt.timezone.utc)}
    insert_restatements(con, pl.DataFrame([row]))
    assert con.execute("SELECT period, employee_id, difference, reason FROM restatements").fetchall() == [
        (Q1, "E1", Decimal("-10.00"), "late data")]


def test_the_evaluation_records_what_the_periods_data_covers(con):
    assert con.execute("SELECT partial, partial_reason, first_data_day, last_data_day FROM period_status").fetchall() \
        == [(True, "its data ends on 2026-03-01, before its last day 2026-03-31", dt.date(2026, 1, 10),
             dt.date(2026, 3, 1))]
    assert con.execute("SELECT DISTINCT partial, first_data_day, last_data_day FROM employee_scores").fetchall() == [
        (True, dt.date(2026, 1, 10), dt.date(2026, 3, 1))]
    assert con.execute("SELECT DISTINCT partial FROM bonus_lines").fetchall() == [(True,)]


def test_close_refuses_a_partial_period_unless_allowed(con):
    with pytest.raises(PeriodStateError, match=r"^period 2026-Q1 is partial \(its data ends on 2026-03-01, before "
                                               r"its last day 2026-03-31\); .*--allow-partial --reason TEXT$"):
        check_close(con, Q1)
    with pytest.raises(PeriodStateError, match="is partial"):
        close_period(con, Q1, user="hr", at=T0)
    assert state_of(con, Q1) == ("open", None)
    assert close_period(con, Q1, user="hr", at=T0, allow_partial=True) == "r1"
    assert state_of(con, Q1) == ("closed", "r1")


def test_a_period_that_has_not_ended_is_partial_whatever_its_data(con):
    con.execute("UPDATE period_status SET partial = false, partial_reason = NULL")  # as if the data covered it
    assert partial_reason(con, Q1, dt.date(2026, 4, 1)) is None
    assert check_close(con, Q1, today=dt.date(2026, 4, 1)) == "r1"
    assert partial_reason(con, Q1, dt.date(2026, 3, 30)) == "it has not ended: it runs to 2026-03-31, today is 2026-03-30"
    with pytest.raises(PeriodStateError, match="it has not ended"):
        check_close(con, Q1, today=dt.date(2026, 3, 30))
