"""The revenue funnel and its LMDI decomposition: a small org computed by hand, zeros, and the property that
the contributions add up to the gap exactly."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.plan import Plan
from tests.transforms.test_golden import PLAN_DICT, act, frame, opp
from transforms.funnel import FunnelCounts, decompose, funnel_counts, lmdi, revenue_funnel, to_cents_adding_up
from transforms.periods import parse_period

D = Decimal
F = Fraction
Q3 = parse_period("2026-Q3")

TARGETS = {"leads": 5, "sla_rate": "0.8", "closed_per_answered": 2, "win_rate": "0.5", "average_won_deal": 5000}


def plan(targets: dict | None = None, **funnel) -> Plan:
    return Plan.model_validate({**PLAN_DICT, "funnel": {"targets": TARGETS if targets is None else targets,
                                                        **funnel}})


# Q3 (all times UTC noon-ish, far from the Bogota period boundaries):
#   marketing leads created in Q3 with a handoff: N1..N4 (N5 has no handoff; N0 was created in Q2) -> 4
#   first contact after the first handoff: N1 +2 h, N2 +23 h (both within 24 h), N3 +30 h (late), N4 none;
#   N2's contact *before* its handoff does not count -> answered 2
#   closed in Q3: N1 won 10000, N2 lost, R1 (referral) won 5000, R2 (outbound) lost -> 4 closed, 2 won, 15000
# Q2: leads P1, P2 (answered +1 h), closed P1 won 8000, P2 lost -> 2, 2, 2 closed, 1 won, 8000
OPPS = [
    opp("N1", "won", "10000.00", "S01", "marketing", "2026-07-02T15:00", "2026-08-20T15:00"),
    opp("N2", "lost", "4000.00", "S01", "marketing", "2026-07-03T15:00", "2026-08-21T15:00"),
    opp("N3", "open", "3000.00", "S02", "marketing", "2026-07-04T15:00", None),
    opp("N4", "open", "3000.00", "S02", "marketing", "2026-07-05T15:00", None),
    opp("N5", "open", "3000.00", "S02", "marketing", "2026-07-06T15:00", None),
    opp("R1", "won", "5000.00", "S02", "referral", "2026-07-07T15:00", "2026-09-01T15:00"),
    opp("R2", "lost", "2000.00", "S02", "outbound", "2026-07-08T15:00", "2026-09-02T15:00"),
    opp("P1", "won", "8000.00", "S01", "marketing", "2026-04-02T15:00", "2026-05-20T15:00"),
    opp("P2", "lost", "1000.00", "S01", "marketing", "2026-04-03T15:00", "2026-05-21T15:00"),
]
ACTS = [
    act("H1", "2026-07-02T16:00", "M01", "marketing", "lead_handoff", "N1"),
    act("C1", "2026-07-02T18:00", "S01", "sales", "first_contact", "N1"),        # +2 h
    act("C2a", "2026-07-03T10:00", "S01", "sales", "first_contact", "N2"),       # before the handoff
    act("H2", "2026-07-03T16:00", "M01", "marketing", "lead_handoff", "N2"),
    act("C2", "2026-07-04T15:00", "S01", "sales", "first_contact", "N2"),        # +23 h
    act("H3", "2026-07-04T16:00", "M02", "marketing", "lead_handoff", "N3"),
    act("C3", "2026-07-05T22:00", "S02", "sales", "first_contact", "N3"),        # +30 h: late
    act("H4", "2026-07-05T16:00", "M02", "marketing", "lead_handoff", "N4"),     # never answered
    act("H5", "2026-07-06T16:00", "M02", "marketing", "lead_referred", "N5"),    # not a handoff
    act("HP1", "2026-04-02T16:00", "M01", "marketing", "lead_handoff", "P1"),
    act("CP1", "2026-04-02T17:00", "S01", "sales", "first_contact", "P1"),
    act("HP2", "2026-04-03T16:00", "M01", "marketing", "lead_handoff", "P2"),
    act("CP2", "2026-04-03T17:00", "S01", "sales", "first_contact", "P2"),
]


def frames():
    return frame("opportunities", OPPS), frame("activities", ACTS)


def test_funnel_counts_by_hand() -> None:
    o, a = frames()
    assert funnel_counts(plan(), Q3, o, a) == FunnelCounts(4, 2, 4, 2, D("15000.00"))
    assert funnel_counts(plan(), Q3.previous, o, a) == FunnelCounts(2, 2, 2, 1, D("8000.00"))
    # the SLA is the funnel's when given (N3 answered after 30 h), else the plan's lead SLA metric's (24 h)
    assert funnel_counts(plan(sla_hours=36), Q3, o, a).answered == 3


def test_revenue_funnel_and_decomposition_by_hand() -> None:
    """Factors Q3: leads 4, SLA rate 2/4 = 1/2, closed per answered 4/2 = 2, win rate 2/4 = 1/2, average deal
    15000/2 = 7500; product 4 * 1/2 * 2 * 1/2 * 7500 = 15000 = won revenue.
    Target: 5 * 0.8 * 2 * 0.5 * 5000 = 20000, gap 15000 - 20000 = -5000.
    LMDI weight L(15000, 20000) = -5000 / ln(15000/20000) = 17380.297483911...
      leads      L * ln(4/5)         = -3878.3013034...  -> floor -3878.31, remainder .0087
      sla rate   L * ln((1/2)/0.8)   = -8168.8028948...  -> floor -8168.81, remainder .0071
      closed/ans L * ln(2/2)         = 0
      win rate   L * ln(0.5/0.5)     = 0
      avg deal   L * ln(7500/5000)   =  7047.1041982...  -> floor  7047.10, remainder .0042
      floors add up to -5000.02: the 2 cents go to the largest remainders (leads, sla rate)
      -> -3878.30, -8168.80, 0, 0, 7047.10 (sum -5000.00).
    Change from Q2 (factors 2, 1, 1, 1/2, 8000; revenue 8000): 15000 - 8000 = 7000,
    L(15000, 8000) = 7000 / ln(15/8) = 11135.704058...
      leads L ln 2 = 7718.6818717..., sla L ln(1/2) = -7718.6818717..., closed L ln 2 = 7718.6818717...,
      win rate 0, avg deal L ln(7500/8000) = -718.6818717...
      floors 7718.68, -7718.69, 7718.68, 0, -718.69 add to 6999.98; the two largest remainders (.00813,
      equal for sla rate and avg deal) get a cent each -> 7718.68, -7718.68, 7718.68, 0, -718.68.
    """
    o, a = frames()
    rows = {r["stage"]: r for r in revenue_funnel(plan(), Q3, o, a).iter_rows(named=True)}
    assert [rows[s]["figure"] for s in ("leads", "answered", "closed", "win_rate", "average_won_deal",
                                        "won_revenue")] == [D(4), D(2), D(4), D("0.5"), D(7500), D(15000)]
    assert [rows[s]["factor"] for s in ("leads", "answered", "closed", "win_rate", "average_won_deal")] == [
        D(4), D("0.5"), D(2), D("0.5"), D(7500)]
    assert rows["won_revenue"]["target_figure"] == D(20000)
    assert [rows[s]["target_figure"] for s in ("leads", "answered", "closed")] == [D(5), D(4), D(8)]
    assert [rows[s]["contribution_to_gap"] for s in ("leads", "answered", "closed", "win_rate",
                                                     "average_won_deal", "won_revenue")] == [
        D("-3878.30"), D("-8168.80"), D("0.00"), D("0.00"), D("7047.10"), D("-5000.00")]
    assert [rows[s]["contribution_to_change"] for s in ("leads", "answered", "closed", "win_rate",
                                                        "average_won_deal", "won_revenue")] == [
        D("7718.68"), D("-7718.68"), D("7718.68"), D("0.00"), D("-718.68"), D("7000.00")]
    assert rows["won_revenue"]["previous_figure"] == D(8000)
    assert rows["won_revenue"]["note"] is None


def test_first_period_has_no_previous_and_incomplete_targets_are_not_split() -> None:
    o, a = frames()
    q2 = revenue_funnel(plan({"won_revenue": 10000}), Q3.previous, o, a)
    last = q2.filter(pl.col("stage") == "won_revenue").row(0, named=True)
    assert last["contribution_to_change"] is None and last["previous_figure"] is None  # Q1 has no data
    assert last["contribution_to_gap"] == D("-2000.00")  # 8000 - 10000, not split
    assert q2.filter(pl.col("stage") != "won_revenue")["contribution_to_gap"].is_null().all()
    assert "no target for every funnel stage" in last["note"]


def test_zero_wins_put_the_whole_change_on_the_win_rate() -> None:
    """Q2 -> a period with closes but no win: revenue 0. In the limit every other factor contributes 0 and
    the win rate (the factor that is 0) takes the whole change; average deal 0/0 takes Q2's value."""
    gap, parts = decompose(FunnelCounts(2, 2, 2, 1, D(8000)).factors(), F(8000),
                           FunnelCounts(3, 1, 2, 0, D(0)).factors(), F(0))
    assert gap == D("-8000.00") and parts == [D(0), D(0), D(0), D("-8000.00"), D(0)]
    # two zero factors share equally; both sides 0 -> nothing to split
    assert lmdi((F(2), F(1, 2)), (F(0), F(0))) == [D(-1) / 2, D(-1) / 2]
    assert lmdi((F(0), None), (F(0), None)) == [D(0), D(0)]


def test_broken_chain_is_not_split() -> None:
    broken = FunnelCounts(0, 0, 3, 1, D(500))  # revenue closed in a period without marketing leads
    assert broken.broken and not FunnelCounts(0, 0, 0, 0, D(0)).broken


def test_plan_refuses_a_won_revenue_target_that_is_not_the_product() -> None:
    with pytest.raises(ValueError, match="not the product"):
        plan({**TARGETS, "won_revenue": 20001})
    assert plan({**TARGETS, "won_revenue": 20000}).funnel.targets.revenue == 20000


# ---- properties ------------------------------------------------------------------------------------
@st.composite
def counts(draw):
    leads = draw(st.integers(0, 400))
    answered = draw(st.integers(0, leads))
    closed = 0 if answered == 0 else draw(st.integers(0, 3 * answered + 5))
    won = draw(st.integers(0, closed))
    revenue = D(0) if won == 0 else draw(st.decimals(0, 10**7, places=2))
    return FunnelCounts(leads, answered, closed, won, revenue)


positive = st.fractions(min_value=F(1, 1000), max_value=10**4, max_denominator=10**4)


@settings(max_examples=400, deadline=None)
@given(counts(), counts())
def test_change_contributions_add_up_to_the_change_exactly(before, after) -> None:
    gap, parts = decompose(before.factors(), F(before.revenue), after.factors(), F(after.revenue))
    assert gap == after.revenue - before.revenue
    assert sum(parts, D(0)) == gap
    assert all(p == p.quantize(D("0.01")) for p in parts)


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[positive] * 5), counts())
def test_gap_to_target_contributions_add_up_and_match_float_lmdi(target, actual) -> None:
    t_revenue = math.prod(target)
    gap, parts = decompose(target, t_revenue, actual.factors(), F(actual.revenue))
    assert sum(parts, D(0)) == gap
    if actual.revenue > 0:  # all positive: each part is the textbook LMDI within a cent
        a = actual.factors()
        w = (float(actual.revenue) - float(t_revenue)) / (math.log(actual.revenue) - math.log(t_revenue)) \
            if actual.revenue != t_revenue else float(t_revenue)
        for p, x1, x0 in zip(parts, a, target):
            assert abs(float(p) - w * math.log(x1 / x0)) <= 0.011 + 1e-9 * abs(w)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(-10**6, 10**6, places=6), min_size=1, max_size=6), st.integers(-5, 5))
def test_cents_add_up_whatever_the_parts(parts, slack) -> None:
    total = sum(parts, D(0)).quantize(D("0.01")) + D(slack) / 100
    out = to_cents_adding_up(parts, total)
    assert sum(out, D(0)) == total
