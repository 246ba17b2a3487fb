"""The statement model on tiny inline frames: capped flags, levers, department aggregates, refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.plan import Plan
from transforms.periods import parse_period
from transforms.scoring import compute_achievement, payout_multiplier
from transforms.statements import (
    MIN_GROUP,
    MetricLine,
    StatementMismatch,
    build_statements,
    is_capped,
    levers,
    median,
    trend_periods,
)

F = Fraction
D = Decimal
Q3 = parse_period("2026-Q3")
PLAN = Plan.model_validate({
    "name": "tiny", "version": "t.1", "effective_from": "2026-01-01", "timezone": "UTC", "period": "quarter",
    "currency": "EUR", "achievement_cap": "1.5", "departments": ["sales", "finance"],
    "metrics": {"closing": {"kind": "closing_index", "target": "0.3"},
                "revenue": {"kind": "company_revenue", "target": 1000},
                "days": {"kind": "measurement", "metric": "days_to_invoice", "direction": "lower", "target": 2}},
    "weights": {"sales": {"closing": "0.6", "revenue": "0.4"}, "finance": {"days": "0.5", "revenue": "0.5"}},
    "payout_curve": [["0", "0"], ["0.8", "0"], ["0.8", "0.5"], ["1", "1"], ["1.5", "2"]],
})


def _line(metric: str, ach: Fraction | None, ew: Fraction, included: bool = True) -> MetricLine:
    return MetricLine(metric, "measurement", "higher", None, None, None, ach, F(3, 2), False, ew, ew,
                      None if ach is None else ew * ach, included, None if included else "no_target", None)


def _frames(*, composite="1", multiplier="1", bonus="500.00", incomplete=False, closing_ach="2", policy=None):
    """One sales employee (E1, fte 0.5 all quarter) and two others' composites in the department."""
    people = pl.DataFrame([{
        "employee_id": "E1", "full_name": "Ana Uno", "department": "sales", "role": "seller",
        "composite_exact": composite, "multiplier_exact": multiplier, "bonus_target": D("4000.00"),
        "period_share": "1/4", "fte_days": D("46"), "days_in_period": 92, "bonus_amount": D(bonus),
        "currency": "EUR", "incomplete": incomplete, "incomplete_reason": None, "plan_version": "t.1", "run_id": "r" * 64,
        "missing_policy": policy,
    }])
    matrix = pl.DataFrame([
        # closing: actual 0.6 vs 0.3 -> 2, capped 1.5; weighted 0.6 * 1.5 = 0.9
        {"employee_id": "E1", "metric": "closing", "direction": "higher", "actual_exact": "3/5", "target": D("0.3"),
         "target_source": "plan", "achievement_exact": "3/2" if closing_ach == "2" else closing_ach, "cap": D("1.5"),
         "weight": D("0.6"), "effective_weight_exact": "3/5", "weighted_score_exact": "9/10", "included": True,
         "reason": None, "detail": None},
        # revenue: 250 / 1000 -> 1/4; weighted 0.4 * 1/4 = 1/10
        {"employee_id": "E1", "metric": "revenue", "direction": "higher", "actual_exact": "250", "target": D("1000"),
         "target_source": "plan", "achievement_exact": "1/4", "cap": D("1.5"), "weight": D("0.4"),
         "effective_weight_exact": "2/5", "weighted_score_exact": "1/10", "included": True, "reason": None,
         "detail": None},
    ])
    credits = pl.DataFrame([{"employee_id": "E1", "opportunity_id": "O1", "department": "sales", "credit": D("150.00"),
                             "share": D("0.6"), "customer_id": "C1", "amount": D("250.00"),
                             "closed_at": dt.datetime(2026, 8, 1, 12, tzinfo=dt.timezone.utc),
                             "touch_types": ["first_contact", "meeting_held"]}])
    scores = pl.DataFrame({"department": ["sales", "sales", "sales", "finance"],
                           "composite_exact": ["1", "1/2", "6/5", "1"]})
    dept_credits = pl.DataFrame({"department": ["sales", "finance"], "credit": [D("200.00"), D("50.00")],
                                 "opportunities": [1, 1]})
    trend = pl.DataFrame({"period": ["2026-Q2", "2026-Q3"], "employee_id": ["E1", "E1"],
                          "composite_exact": ["1", composite], "multiplier_exact": ["1", multiplier],
                          "bonus_amount": [D("500.00"), D(bonus)], "currency": ["EUR", "EUR"]})
    roster = pl.DataFrame([{"employee_id": "E1", "full_name": "Ana Uno", "department": "sales", "role": "seller",
                            "currency": "EUR", "manager_id": None, "fte": D("0.5"), "bonus_target": D("4000.00"),
                            "effective_from": dt.date(2025, 1, 1), "effective_to": None}],
                          schema_overrides={"manager_id": pl.Utf8, "effective_to": pl.Date, "fte": pl.Decimal(38, 9)})
    return dict(plan=PLAN, period=Q3, status={"state": "closed", "pending_restatement": True}, people=people,
                matrix=matrix, credits=credits, department_scores=scores, department_credits=dept_credits, trend=trend,
                roster=roster, period_states={"2026-Q2": "closed", "2026-Q3": "closed"}, draft=False)


def test_one_statement_from_tiny_frames() -> None:
    (s,) = build_statements(**_frames())
    closing, revenue = s.metrics
    assert (closing.metric, closing.capped, closing.achievement) == ("closing", True, F(3, 2))
    assert revenue.capped is False and revenue.kind == "company_revenue"
    assert s.composite == 1 and s.multiplier == 1 and s.bonus.amount == D("500.00")
    # fte and days employed shown: 0.5 x 92 days = 46 fte-days
    assert (s.bonus.fte, s.bonus.days_employed, s.bonus.fte_days) == (F(1, 2), 92, F(46))
    # company: won 250.00 (sum of the departments' credits) against the plan's 1000
    assert s.company.won_revenue == D("250.00") and s.company.achievement == F(1, 4)
    # department: 3 people -> the median composite of 1/2, 1, 6/5; share of the result 200/250
    agg = s.department_aggregate
    assert (agg.employees, agg.median_composite, agg.share_of_result) == (3, 1, F(4, 5))
    assert s.status_words == ("closed", "pending_restatement")
    assert [o.touch_types for o in s.opportunities] == [("first_contact", "meeting_held")]
    assert s.contribution_total == D("150.00")
    assert [t.period for t in s.trend] == ["2026-Q2", "2026-Q3"]
    # the only lever: revenue (1/4 -> 1 adds 2/5 * 3/4 = 3/10)
    (lv,) = s.levers
    assert (lv.metric, lv.composite_gain, lv.composite_after) == ("revenue", F(3, 10), F(13, 10))
    assert lv.multiplier_after == payout_multiplier(PLAN.payout_curve, F(13, 10)) == F(8, 5)


def test_a_small_department_shows_no_median() -> None:
    frames = _frames()
    frames["department_scores"] = pl.DataFrame({"department": ["sales", "sales"], "composite_exact": ["1", "1/2"]})
    (s,) = build_statements(**frames)
    assert MIN_GROUP == 3 and s.department_aggregate.median_composite is None
    assert s.department_aggregate.employees == 2


def test_figures_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(StatementMismatch, match="weighted scores add up to 1, the stored composite is 99/100"):
        build_statements(**_frames(composite="99/100", multiplier="39/40", bonus="487.50"))
    with pytest.raises(StatementMismatch, match="bonus arithmetic gives 500.00, the stored bonus is 500.01"):
        build_statements(**_frames(bonus="500.01"))


def test_a_held_bonus_is_shown_as_held() -> None:
    (s,) = build_statements(**_frames(multiplier="0", bonus="0.00", incomplete=True, policy="hold"))
    assert s.bonus.held is True and s.bonus.amount == D("0.00") and s.multiplier == 0
    (s,) = build_statements(**_frames())
    assert s.bonus.held is False


def test_levers_order_and_what_they_leave_out() -> None:
    lines = [_line("a", F(1, 2), F(1, 5)), _line("b", F(9, 10), F(2, 5)), _line("c", F(3, 2), F(1, 5)),
             _line("d", None, F(0), included=False), _line("e", F(0), F(1, 5))]
    composite = sum((m.weighted_score for m in lines if m.weighted_score is not None), F(0))
    got = levers(lines, composite, PLAN.payout_curve)
    # e: 1/5 * 1 = 1/5; a: 1/5 * 1/2 = 1/10; b: 2/5 * 1/10 = 1/25; c is above target, d left out
    assert [(lv.metric, lv.composite_gain) for lv in got] == [("e", F(1, 5)), ("a", F(1, 10)), ("b", F(1, 25))]
    assert all(lv.composite_after == composite + lv.composite_gain for lv in got)


@given(actual=st.fractions(min_value=0, max_value=10), target=st.fractions(min_value=F(1, 100), max_value=10),
       cap=st.fractions(min_value=F(1, 2), max_value=3), direction=st.sampled_from(["higher", "lower"]))
def test_capped_means_the_cap_clipped_a_larger_ratio(actual, target, cap, direction) -> None:
    ach = compute_achievement(actual, target, direction, cap)
    raw = (actual / target) if direction == "higher" else (None if actual == 0 else target / actual)
    expected = raw is None or raw > cap
    assert is_capped(actual, target, direction, cap, ach) is expected
    if is_capped(actual, target, direction, cap, ach):
        assert ach == cap


@given(st.lists(st.fractions(min_value=0, max_value=2), min_size=1, max_size=25))
def test_median_splits_the_values(values) -> None:
    m = median(values)
    assert sum(v < m for v in values) <= len(values) // 2 and sum(v > m for v in values) <= len(values) // 2


def test_trend_periods_are_the_last_four() -> None:
    assert trend_periods(Q3) == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert trend_periods(parse_period("2026-02")) == ["2025-11", "2025-12", "2026-01", "2026-02"]
