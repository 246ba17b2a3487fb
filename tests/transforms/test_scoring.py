from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.plan import Plan
from transforms.periods import parse_period
from transforms.scoring import (
    MATRIX_SCHEMA,
    SCORES_SCHEMA,
    compute_achievement,
    compute_bonus,
    exact_text,
    payout_multiplier,
    round_half_up,
    score_employees,
    score_one,
)

D = Decimal
F = Fraction
Q1 = parse_period("2026-Q1")
DEFAULT_CURVE = [(D("0.0"), D("0.0")), (D("0.8"), D("0.0")), (D("0.8"), D("0.5")), (D("1.0"), D("1.0")),
                 (D("1.5"), D("2.0"))]

PLAN = Plan.model_validate({
    "name": "t", "version": "1", "effective_from": dt.date(2026, 1, 1), "timezone": "America/Bogota",
    "period": "quarter", "currency": "EUR", "achievement_cap": "1.5",
    "departments": ["sales", "finance", "customer_service"],
    "metrics": {
        "closing": {"kind": "closing_index", "target": "0.3"},
        "contribution": {"kind": "commercial_contribution", "target": 5000},
        "revenue": {"kind": "company_revenue", "target": 1000},
        "dti": {"kind": "measurement", "metric": "days_to_invoice", "direction": "lower", "target": 2},
        "referrals": {"kind": "activity_count", "activity_types": ["lead_referred"], "target": 3},
        "csat": {"kind": "customer_satisfaction", "target": "8", "cap": "1.2"},
    },
    "weights": {
        "sales": {"closing": "0.5", "contribution": "0.3", "revenue": "0.2"},
        "finance": {"dti": "0.5", "referrals": "0.3", "revenue": "0.2"},
        "customer_service": {"csat": "0.5", "referrals": "0.5"},
    },
    "payout_curve": [list(p) for p in DEFAULT_CURVE],
})


# ---- compute_achievement ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("actual", "target", "direction", "cap", "expected"),
    [
        (F(3, 10), D("0.3"), "higher", 2, F(1)),
        (F(1, 5), D("0.3"), "higher", 2, F(2, 3)),
        (F(9, 10), D("0.3"), "higher", D("1.5"), F(3, 2)),  # 3.0 clipped to the cap
        (F(-1), D("2"), "higher", 2, F(0)),  # negative clipped to 0
        (F(0), D("2"), "higher", 2, F(0)),
        (F(5), D("0"), "higher", 2, None),  # target 0 on higher: no target
        (F(5), D("-1"), "higher", 2, None),  # target < 0 on higher: no target
        (F(4), D("2"), "lower", 2, F(1, 2)),
        (F(1), D("2"), "lower", D("1.5"), F(3, 2)),  # 2.0 clipped
        (F(0), D("2"), "lower", D("1.5"), F(3, 2)),  # actual 0 on lower: the cap
        (F(0), D("0"), "lower", D("1.2"), F(6, 5)),  # actual 0 wins even when target is 0
        (F(3), D("0"), "lower", 2, F(0)),  # target 0 with actual > 0: 0
        (None, D("2"), "higher", 2, None),
        (F(1), None, "higher", 2, None),
        (None, D("2"), "lower", 2, None),
        (F(1), None, "lower", 2, None),
    ],
)
def test_compute_achievement(actual, target, direction, cap, expected) -> None:
    assert compute_achievement(actual, target, direction, cap) == expected


def test_compute_achievement_bad_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        compute_achievement(F(1), F(1), "sideways", 1)


# ---- payout_multiplier ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("composite", "expected"),
    [
        (F(-1, 10), F(0)),  # below the first point: first y
        (F(0), F(0)),
        (F(79999, 100000), F(0)),  # just below the step
        (F(4, 5), F(1, 2)),  # exactly 0.8: the step's upper value
        (D("0.8"), F(1, 2)),
        (F(9, 10), F(3, 4)),  # interpolated
        (F(1), F(1)),
        (F(5, 4), F(3, 2)),
        (F(3, 2), F(2)),
        (F(7), F(2)),  # flat beyond the last point
    ],
)
def test_payout_multiplier_default_curve(composite, expected) -> None:
    assert payout_multiplier(DEFAULT_CURVE, composite) == expected


def test_payout_multiplier_tails_steps_and_order() -> None:
    assert payout_multiplier([(D(1), D("0.7"))], F(0)) == F(7, 10)
    assert payout_multiplier([(D(1), D("0.7"))], F(5)) == F(7, 10)
    # first point not at 0: below it the first y
    assert payout_multiplier([(D("0.5"), D("0.2")), (D(1), D(1))], F(1, 10)) == F(1, 5)
    # three points at the same x: the last one wins at that x
    curve = [(0, 0), (1, F(1, 10)), (1, F(2, 10)), (1, F(3, 10)), (2, 1)]
    assert payout_multiplier(curve, 1) == F(3, 10)
    assert payout_multiplier(curve, F(3, 2)) == F(13, 20)
    # unsorted input is sorted by x (stable)
    assert payout_multiplier([(2, 1), (0, 0)], 1) == F(1, 2)
    with pytest.raises(ValueError):
        payout_multiplier([], 1)


# ---- compute_bonus / rounding ---------------------------------------------------------------------
def test_compute_bonus_basic() -> None:
    assert compute_bonus(D("12000.00"), F(1, 4), F(90), 90, F(1)) == D("3000.00")
    assert compute_bonus(D("12000.00"), F(1, 4), D("45.000000000"), 90, F(1, 2)) == D("750.00")
    assert compute_bonus(D("12000.00"), F(1, 12), F(0), 31, F(2)) == D("0.00")


def test_compute_bonus_half_up_exactly_on_half_cent() -> None:
    # 100.02 / 4 = 25.005 exactly: half-up gives 25.01 (banker's rounding would give 25.00)
    assert compute_bonus(D("100.02"), F(1, 4), F(90), 90, F(1)) == D("25.01")
    # 0.18 x 1/12 = 0.015 exactly -> 0.02
    assert compute_bonus(D("0.18"), F(1, 12), F(31), 31, F(1)) == D("0.02")


def test_compute_bonus_rounds_once_at_the_end() -> None:
    # 1000 x 1/4 x 1/3 x 0.5 = 41.6666.. -> 41.67 ; rounding each step would give a different cent
    assert compute_bonus(D("1000.00"), F(1, 4), F(30), 90, F(1, 2)) == D("41.67")
    # bonus_target x share = 0.0025 -> would round to 0.00 early; exact product 0.0025 x 90/90 x 2 = 0.005 -> 0.01
    assert compute_bonus(D("0.01"), F(1, 4), F(90), 90, F(2)) == D("0.01")
    with pytest.raises(ValueError):
        compute_bonus(D(1), F(1, 4), F(1), 0, F(1))


def test_round_half_up_matches_decimal() -> None:
    for f in [F(1, 200), F(-1, 200), F(3, 800), F(123456789, 1000), F(0), F(-5, 1000), F(2, 3)]:
        exact = D(f.numerator) / D(f.denominator)
        assert round_half_up(f, 2) == exact.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert str(round_half_up(F(1, 3), 12)) == "0.333333333333"
    assert exact_text(F(4, 5)) == "4/5" and exact_text(F(3)) == "3" and exact_text(None) is None


# ---- score_employees -------------------------------------------------------------------------------
ROSTER_SCHEMA = {"employee_id": pl.Utf8, "full_name": pl.Utf8, "department": pl.Utf8, "role": pl.Utf8,
                 "currency": pl.Utf8, "bonus_target": pl.Decimal(18, 2), "fte_days": pl.Decimal(38, 9),
                 "days_in_period": pl.Int64, "days_employed": pl.Int64}


def roster(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    """(employee_id, department, bonus_target, fte_days)"""
    return pl.DataFrame([{"employee_id": e, "full_name": e.upper(), "department": d, "role": "member",
                          "currency": "EUR", "bonus_target": D(b), "fte_days": D(f), "days_in_period": 90,
                          "days_employed": 90} for e, d, b, f in rows], schema=ROSTER_SCHEMA)


def actuals(*rows: tuple[str, str, str | None, int | None]) -> pl.DataFrame:
    return pl.DataFrame([{"employee_id": e, "metric": m, "actual_num": None if n is None else D(n), "actual_den": d,
                          "detail": "x"} for e, m, n, d in rows],
                        schema={"employee_id": pl.Utf8, "metric": pl.Utf8, "actual_num": pl.Decimal(38, 9),
                                "actual_den": pl.Int64, "detail": pl.Utf8})


def targets(*rows: tuple[str, str, str | None]) -> pl.DataFrame:
    return pl.DataFrame([{"employee_id": e, "metric": m, "target": None if t is None else D(t),
                          "target_source": None if t is None else "plan"} for e, m, t in rows],
                        schema={"employee_id": pl.Utf8, "metric": pl.Utf8, "target": pl.Decimal(38, 9),
                                "target_source": pl.Utf8})


def by(frame: pl.DataFrame, *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in frame.to_dicts()}


def test_score_complete_row_hand_computed() -> None:
    # closing 3/10 vs 0.3 -> 1 ; contribution 2500 vs 5000 -> 1/2 ; revenue 3000 vs 1000 -> 3 capped 1.5
    # composite = 0.5*1 + 0.3*0.5 + 0.2*1.5 = 0.95 -> multiplier 0.5 + (0.15/0.2)*0.5 = 0.875
    # bonus = 12000 x 1/4 x 90/90 x 0.875 = 2625.00
    matrix, scores = score_employees(
        PLAN, Q1, roster(("s", "sales", "12000.00", "90")),
        actuals(("s", "closing", "3", 10), ("s", "contribution", "2500", 1), ("s", "revenue", "3000", 1)),
        targets(("s", "closing", "0.3"), ("s", "contribution", "5000"), ("s", "revenue", "1000")),
    )
    assert dict(matrix.schema) == MATRIX_SCHEMA and dict(scores.schema) == SCORES_SCHEMA
    s = by(scores, "employee_id")["s"]
    assert s["composite_exact"] == "19/20" and s["composite"] == D("0.95")
    assert s["multiplier_exact"] == "7/8" and s["payout_multiplier"] == D("0.875")
    assert s["bonus_amount"] == D("2625.00")
    assert (s["incomplete"], s["incomplete_reason"], s["period_share"], s["period"]) == (False, None, "1/4", "2026-Q1")
    m = by(matrix, "metric")
    assert m["revenue"]["achievement"] == D("1.5") and m["revenue"]["weighted_score"] == D("0.3")
    assert m["closing"]["actual"] == D("0.3") and m["closing"]["included"] is True and m["closing"]["reason"] is None
    assert sum(r["weighted_score"] for r in m.values()) == s["composite"]


def test_missing_target_and_actual_renormalise_and_flag() -> None:
    # contribution has no target, revenue no actual: only closing is left (effective weight 1)
    matrix, scores = score_employees(
        PLAN, Q1, roster(("s", "sales", "1000.00", "90")),
        actuals(("s", "closing", "1", 5), ("s", "contribution", "10", 1), ("s", "revenue", None, None)),
        targets(("s", "closing", "0.25"), ("s", "contribution", None), ("s", "revenue", "1000")),
    )
    s = by(scores, "employee_id")["s"]
    assert s["composite_exact"] == "4/5"  # 0.2 / 0.25
    assert s["multiplier_exact"] == "1/2"  # exactly 0.8 sits on the step: upper value
    assert s["bonus_amount"] == D("125.00")  # 1000 x 1/4 x 1 x 0.5
    assert s["incomplete"] is True
    assert s["incomplete_reason"] == "contribution: no target; revenue: no actual"
    m = by(matrix, "metric")
    assert (m["contribution"]["included"], m["contribution"]["reason"], m["contribution"]["effective_weight"]) == (
        False, "no_target", D(0))
    assert (m["revenue"]["reason"], m["revenue"]["weighted_score"], m["revenue"]["achievement"]) == (
        "no_actual", None, None)
    assert m["closing"]["effective_weight"] == D(1) and m["closing"]["weight"] == D("0.5")


def test_renormalisation_two_left() -> None:
    # finance: dti 0.5 (no actual) removed; referrals 0.3 and revenue 0.2 remain
    _, scores = score_employees(
        PLAN, Q1, roster(("f", "finance", "800.00", "45")),
        actuals(("f", "dti", None, None), ("f", "referrals", "3", 1), ("f", "revenue", "500", 1)),
        targets(("f", "dti", "2"), ("f", "referrals", "3"), ("f", "revenue", "1000")),
    )
    s = by(scores, "employee_id")["f"]
    # effective weights 0.3/0.5 = 3/5 and 0.2/0.5 = 2/5 -> 3/5 x 1 + 2/5 x 1/2 = 4/5
    assert s["composite_exact"] == "4/5" and s["multiplier_exact"] == "1/2"
    assert s["bonus_amount"] == D("50.00")  # 800 x 1/4 x 45/90 x 1/2


def test_lower_direction_and_metric_cap_in_scores() -> None:
    # dti actual 0 -> cap 1.5 ; referrals 6/3 -> 2 -> capped at plan cap 1.5 ; revenue 0 -> 0
    # composite = 0.5*1.5 + 0.3*1.5 + 0 = 1.2 -> multiplier 1 + 0.2/0.5 = 1.4
    _, scores = score_employees(
        PLAN, Q1, roster(("f", "finance", "1000.00", "90")),
        actuals(("f", "dti", "0", 1), ("f", "referrals", "6", 1), ("f", "revenue", "0", 1)),
        targets(("f", "dti", "2"), ("f", "referrals", "3"), ("f", "revenue", "1000")),
    )
    s = by(scores, "employee_id")["f"]
    assert (s["composite_exact"], s["multiplier_exact"], s["bonus_amount"]) == ("6/5", "7/5", D("350.00"))
    # csat has its own cap 1.2: 10/8 = 1.25 -> 1.2
    matrix, _ = score_employees(
        PLAN, Q1, roster(("c", "customer_service", "0", "90")),
        actuals(("c", "csat", "10", 1), ("c", "referrals", "3", 1)),
        targets(("c", "csat", "8"), ("c", "referrals", "3")),
    )
    assert by(matrix, "metric")["csat"]["achievement"] == D("1.2")


def test_all_removed_gives_zero_and_incomplete() -> None:
    matrix, scores = score_employees(
        PLAN, Q1, roster(("s", "sales", "5000.00", "90")),
        actuals(("s", "closing", None, None), ("s", "contribution", "1", 1)),  # revenue row absent: no actual
        targets(("s", "closing", None), ("s", "contribution", "0"), ("s", "revenue", "1")),
    )
    s = by(scores, "employee_id")["s"]
    assert (s["composite"], s["payout_multiplier"], s["bonus_amount"], s["incomplete"]) == (D(0), D(0), D("0.00"),
                                                                                           True)
    assert s["incomplete_reason"] == ("closing: no actual, no target; contribution: no target (target <= 0); "
                                      "revenue: no actual")
    assert by(matrix, "metric")["closing"]["reason"] == "no_actual_no_target"
    assert matrix["effective_weight"].to_list() == [D(0)] * 3


def test_all_removed_gets_zero_even_if_curve_pays_at_zero() -> None:
    plan = PLAN.model_copy(update={"payout_curve": ((D(0), D("0.3")), (D(1), D(1)))})
    _, scores = score_employees(plan, Q1, roster(("s", "sales", "100.00", "90")), actuals(), targets())
    assert scores.row(0, named=True)["payout_multiplier"] == 0
    # ... whereas a complete row at composite 0 gets the curve's value there
    _, scores = score_employees(
        plan, Q1, roster(("s", "sales", "100.00", "90")),
        actuals(("s", "closing", "0", 1), ("s", "contribution", "0", 1), ("s", "revenue", "0", 1)),
        targets(("s", "closing", "1"), ("s", "contribution", "1"), ("s", "revenue", "1")),
    )
    assert scores.row(0, named=True)["multiplier_exact"] == "3/10"


def test_unknown_department_has_no_weight_row() -> None:
    _, scores = score_employees(PLAN, Q1, roster(("z", "legal", "100.00", "90")), actuals(), targets())
    r = scores.row(0, named=True)
    assert (r["incomplete"], r["incomplete_reason"], r["composite"]) == (True, "no weight row", D(0))


def test_empty_roster() -> None:
    matrix, scores = score_employees(PLAN, Q1, roster(), actuals(), targets())
    assert matrix.is_empty() and scores.is_empty()
    assert dict(scores.schema) == SCORES_SCHEMA


# ---- properties ------------------------------------------------------------------------------------
fractions = st.fractions(min_value=-5, max_value=50, max_denominator=1000)
curves = st.lists(
    st.tuples(st.fractions(min_value=0, max_value=3, max_denominator=20),
              st.fractions(min_value=0, max_value=3, max_denominator=20)),
    min_size=1, max_size=6,
).map(lambda pts: list(zip(sorted(p[0] for p in pts), sorted(p[1] for p in pts))))


@settings(max_examples=300, deadline=None)
@given(curves, fractions, fractions)
def test_multiplier_monotone_in_composite(curve, a, b) -> None:
    lo, hi = min(a, b), max(a, b)
    assert payout_multiplier(curve, lo) <= payout_multiplier(curve, hi)
    ys = [y for _, y in curve]
    assert min(ys) <= payout_multiplier(curve, a) <= max(ys)


metric_names = ["closing", "contribution", "revenue", "dti", "referrals", "csat"]
maybe = lambda s: st.none() | s  # noqa: E731


@st.composite
def employee_case(draw):
    names = draw(st.lists(st.sampled_from(metric_names), min_size=1, max_size=6, unique=True))
    raw = draw(st.lists(st.integers(min_value=1, max_value=100), min_size=len(names), max_size=len(names)))
    weights = {m: D(w) / D(sum(raw)) for m, w in zip(names, raw)}  # not necessarily summing to exactly 1
    acts = {m: draw(maybe(fractions)) for m in names}
    tgts = {m: draw(maybe(fractions)) for m in names}
    return weights, acts, tgts


@settings(max_examples=400, deadline=None)
@given(employee_case())
def test_composite_bounds_and_effective_weights(case) -> None:
    weights, acts, tgts = case
    rows, composite, multiplier, incomplete, reason = score_one(PLAN, weights, acts, tgts)
    max_cap = max(F(PLAN.cap_for(m)) for m in weights)
    assert 0 <= composite <= max_cap
    included = [r for r in rows if r["included"]]
    if included:
        assert sum(r["effective_weight"] for r in rows) == 1
        assert composite == sum(r["effective_weight"] * r["achievement"] for r in included)
        assert multiplier == payout_multiplier(PLAN.payout_curve, composite)
    else:
        assert (composite, multiplier, incomplete) == (0, 0, True)
    assert incomplete == (len(included) < len(rows))
    assert (reason is None) == (not incomplete)
    assert all(r["effective_weight"] == 0 for r in rows if not r["included"])


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10**7, places=2),
    st.sampled_from([F(1, 12), F(1, 4)]),
    st.integers(min_value=1, max_value=92).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
    st.fractions(min_value=0, max_value=3, max_denominator=1000),
)
def test_bonus_is_exact_half_up_of_the_rational(bonus_target, share, days, multiplier) -> None:
    days_in_period, fte_days = days
    got = compute_bonus(bonus_target, share, F(fte_days), days_in_period, multiplier)
    exact = F(bonus_target) * share * F(fte_days, days_in_period) * multiplier
    assert got.as_tuple().exponent == -2
    assert abs(F(got) - exact) <= F(1, 200)
    if abs(F(got) - exact) == F(1, 200):
        assert F(got) > exact  # ties go up


def test_integer_actuals_are_accepted() -> None:
    acts = pl.DataFrame({"employee_id": ["c", "c"], "metric": ["csat", "referrals"], "actual_num": [8, 3],
                         "actual_den": [1, 2], "detail": [None, None]})
    _, scores = score_employees(PLAN, Q1, roster(("c", "customer_service", "400.00", "90")), acts,
                                targets(("c", "csat", "8"), ("c", "referrals", "3")))
    # csat 1 x 1/2 + referrals (3/2)/3 = 1/2 x 1/2 -> 3/4
    assert scores.row(0, named=True)["composite_exact"] == "3/4"


# ---- the frame equals the per-employee definition --------------------------------------------------
def reference_scores(plan, period, roster_frame, actuals_frame, targets_frame):
    """score_employees' rows computed one employee at a time with score_one (the definition)."""
    act = {(r["employee_id"], r["metric"]): r for r in actuals_frame.to_dicts()}  # the last repeated pair wins
    tgt = {(r["employee_id"], r["metric"]): r for r in targets_frame.to_dicts()}
    display = lambda v: None if v is None else round_half_up(v, 12)  # noqa: E731
    matrix, scores = [], []
    for emp in roster_frame.sort("employee_id").to_dicts():
        eid = emp["employee_id"]
        wrow = plan.weight_row(emp["department"], emp["role"])
        a = {m: act.get((eid, m), {}) for m in wrow}
        values = {m: (F(r["actual_num"]) / r["actual_den"] if r.get("actual_num") is not None and r.get("actual_den")
                      else None) for m, r in a.items()}
        targets_ = {m: None if tgt.get((eid, m), {}).get("target") is None else F(tgt[(eid, m)]["target"])
                    for m in wrow}
        rows, composite, multiplier, incomplete, reason = score_one(plan, wrow, values, targets_)
        for r in rows:
            matrix.append({
                "employee_id": eid, "metric": r["metric"], "actual": display(r["actual"]),
                "target": display(r["target"]), "achievement": display(r["achievement"]), "cap": display(r["cap"]),
                "weight": display(r["weight"]), "effective_weight": display(r["effective_weight"]),
                "weighted_score": display(r["weighted_score"]), "included": r["included"], "reason": r["reason"],
                "actual_exact": exact_text(r["actual"]), "achievement_exact": exact_text(r["achievement"]),
                "effective_weight_exact": exact_text(r["effective_weight"]),
                "weighted_score_exact": exact_text(r["weighted_score"]), "detail": a[r["metric"]].get("detail"),
                "target_source": tgt.get((eid, r["metric"]), {}).get("target_source"),
            })
        bonus = (compute_bonus(emp["bonus_target"], period.share, emp["fte_days"], emp["days_in_period"], multiplier)
                 if emp["bonus_target"] is not None and emp["fte_days"] is not None else None)
        scores.append({"employee_id": eid, "composite": display(composite), "payout_multiplier": display(multiplier),
                       "incomplete": incomplete, "incomplete_reason": reason, "composite_exact": exact_text(composite),
                       "multiplier_exact": exact_text(multiplier), "bonus_amount": bonus})
    return matrix, scores


decimals9 = st.decimals(min_value=-50, max_value=500, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def roster_case(draw):
    ids = draw(st.lists(st.sampled_from([f"e{i}" for i in range(12)]), min_size=0, max_size=8, unique=True))
    depts = ["sales", "finance", "customer_service", "legal"]
    emps = [(e, draw(st.sampled_from(depts)), str(draw(st.sampled_from(["0", "1000.00", "1234.56"]))),
             str(draw(st.integers(0, 90)))) for e in ids]
    metrics = list(PLAN.metrics)
    acts = [(draw(st.sampled_from(ids)), draw(st.sampled_from(metrics)), draw(st.none() | decimals9.map(str)),
             draw(st.none() | st.integers(0, 7)))
            for _ in range(draw(st.integers(0, 3 * len(ids))))] if ids else []
    tgts = [(draw(st.sampled_from(ids)), draw(st.sampled_from(metrics)), draw(st.none() | decimals9.map(str)))
            for _ in range(draw(st.integers(0, 3 * len(ids))))] if ids else []
    return emps, acts, tgts


@settings(max_examples=150, deadline=None)
@given(roster_case())
def test_score_employees_equals_score_one_per_employee(case) -> None:
    emps, acts, tgts = case
    r, a, t = roster(*emps), actuals(*acts), targets(*tgts)
    matrix, scores = score_employees(PLAN, Q1, r, a, t)
    want_matrix, want_scores = reference_scores(PLAN, Q1, r, a, t)
    assert matrix.select(list(want_matrix[0]) if want_matrix else ["employee_id"]).to_dicts() == (
        want_matrix if want_matrix else [])
    assert scores.select(list(want_scores[0]) if want_scores else ["employee_id"]).to_dicts() == (
        want_scores if want_scores else [])
    assert matrix.get_column("period").unique().to_list() in ([], ["2026-Q1"])
