"""The missing-data policy (`when_missing: renormalise | zero | hold`) on the golden org, computed by hand,
and the frame scoring equal to the per-employee definition under every policy."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings

from schemas.plan import Plan
from tests.transforms import test_golden as golden
from tests.transforms.test_scoring import PLAN, Q1, actuals, reference_scores, roster, roster_case, targets
from transforms.evaluation import evaluate_period
from transforms.scoring import missing_policy_text, score_employees, score_one

D = Decimal
F = Fraction


def golden_without_finance_team_readings() -> dict[str, pl.DataFrame]:
    """The golden org without the finance team's days_to_invoice readings (M15-M17): F03 has no own readings,
    so its days_to_invoice has no actual. F01 and F02 have their own readings; nobody else reads them."""
    frames = golden.golden_frames()
    frames["measurements"] = frames["measurements"].filter(~pl.col("measurement_id").is_in(["M15", "M16", "M17"]))
    return frames


def evaluate(default: str | None = None, **per_metric: str):
    plan = dict(golden.PLAN_DICT)
    if default:
        plan["when_missing"] = default
    plan["metrics"] = {m: ({**spec, "when_missing": per_metric[m]} if m in per_metric else spec)
                       for m, spec in golden.PLAN_DICT["metrics"].items()}
    result = evaluate_period(Plan.model_validate(plan), golden.Q3, golden_without_finance_team_readings(), golden.AS_OF)
    return {r["employee_id"]: r for r in result.scores.iter_rows(named=True)}, result.matrix


# F03 (finance, weights days_to_invoice 0.6 / company_revenue 0.4; revenue achievement 22000/20000 = 11/10;
# 61.5 fte-days of 92; bonus_target 4400):
#   renormalise: days_to_invoice dropped, company_revenue's weight 0.4/0.4 = 1 -> composite 11/10,
#                multiplier 1 + (11/10 - 1) * 2 = 6/5, bonus 4400 * 1/4 * 61.5/92 * 6/5 = 81180/92 = 882.391..
#                -> 882.39
#   zero:        days_to_invoice counts as achievement 0 -> composite 0.6 * 0 + 0.4 * 11/10 = 0.44 < 0.8
#                -> multiplier 0, bonus 0.00
#   hold:        composite as renormalised (11/10), bonus held: multiplier 0, bonus 0.00
# M03 (marketing): `handoffs` has no *target* -> removed under renormalise AND under zero (a missing target
#   still drops the metric): composite 3/5 * 0 + 2/5 * 11/10 = 0.44, multiplier 0, bonus 0.00; under hold
#   the same composite, held.
CASES = {
    # policy: {employee: (composite, multiplier, bonus, missing_policy, reason)}
    "renormalise": {
        "F03": (F(11, 10), F(6, 5), D("882.39"), "renormalise", "days_to_invoice: no actual"),
        "M03": (F(44, 100), F(0), D("0.00"), "renormalise", "handoffs: no target"),
    },
    "zero": {
        "F03": (F(44, 100), F(0), D("0.00"), "zero", "days_to_invoice: no actual (counted as 0)"),
        "M03": (F(44, 100), F(0), D("0.00"), "renormalise", "handoffs: no target"),
    },
    "hold": {
        "F03": (F(11, 10), F(0), D("0.00"), "hold",
                "held (bonus 0 until the data is complete): days_to_invoice: no actual"),
        "M03": (F(44, 100), F(0), D("0.00"), "hold", "held (bonus 0 until the data is complete): handoffs: no target"),
    },
}


@pytest.mark.parametrize("policy", sorted(CASES))
def test_three_policies_on_the_golden_org(policy: str) -> None:
    scores, matrix = evaluate(policy)
    for eid, (composite, multiplier, bonus, flag, reason) in CASES[policy].items():
        row = scores[eid]
        assert F(row["composite_exact"]) == composite, eid
        assert F(row["multiplier_exact"]) == multiplier, eid
        assert row["bonus_amount"] == bonus, eid
        assert row["incomplete"] is True and row["incomplete_reason"] == reason, eid
        assert row["missing_policy"] == flag, eid
    # everyone else is complete and exactly as in the golden test, whatever the policy
    for eid, (_, composite, multiplier, bonus, _, _) in golden.EXPECTED.items():
        if eid in ("F03", "M03"):
            continue
        row = scores[eid]
        assert (F(row["composite_exact"]), F(row["multiplier_exact"]), row["bonus_amount"]) == (
            composite, multiplier, bonus), eid
        assert row["missing_policy"] is None and row["incomplete"] is False
    f03 = matrix.filter((pl.col("employee_id") == "F03") & (pl.col("metric") == "days_to_invoice")).row(0, named=True)
    assert f03["when_missing"] == policy and f03["reason"] == "no_actual"
    assert f03["included"] is (policy == "zero")
    assert (F(f03["achievement_exact"]) == 0) if policy == "zero" else f03["achievement_exact"] is None


def test_per_metric_policy_overrides_the_plan_wide_default() -> None:
    scores, _ = evaluate("renormalise", days_to_invoice="zero")
    assert F(scores["F03"]["composite_exact"]) == F(44, 100) and scores["F03"]["missing_policy"] == "zero"
    assert scores["M03"]["missing_policy"] == "renormalise"
    scores, _ = evaluate("hold", days_to_invoice="renormalise")
    assert scores["F03"]["bonus_amount"] == D("882.39") and scores["M03"]["missing_policy"] == "hold"


def test_golden_expectations_do_not_depend_on_the_default_plan() -> None:
    """The golden test uses its own plan: renormalise, the plan-wide default when none is given."""
    assert "when_missing" not in golden.PLAN_DICT and Plan.model_validate(golden.PLAN_DICT).when_missing == "renormalise"


def test_default_plan_zeroes_each_functions_main_metric(default_plans) -> None:
    plan = default_plans.base
    assert plan.when_missing == "renormalise"
    main = {"sales": "closing_index", "marketing": "prospecting", "customer_service": "csat", "logistics": "on_time",
            "dispatch": "on_time", "finance": "days_to_invoice", "hr": "time_to_hire", "facilities": "work_orders",
            "technology": "uptime"}
    for dept, metric in main.items():
        assert max(plan.weights[dept], key=plan.weights[dept].get) == metric
        assert plan.policy_for(metric) == "zero", metric
    assert {m for m in plan.metrics if plan.policy_for(m) == "zero"} == set(main.values())


def test_a_zero_weight_missing_metric_changes_nothing_unless_held() -> None:
    rows = [{"when_missing": "renormalise", "weight": F(0)}, {"when_missing": None, "weight": F(1)}]
    assert missing_policy_text((r["when_missing"], r["weight"]) for r in rows) is None
    assert missing_policy_text([("hold", F(0)), ("zero", F(1, 2)), ("renormalise", F(1, 2))]) == "hold,zero,renormalise"


# ---- the frame equals the per-employee definition, under each policy -----------------------------------
POLICY_PLANS = [
    PLAN.model_copy(update={"when_missing": "zero"}),
    PLAN.model_copy(update={"when_missing": "hold"}),
    Plan.model_validate({**PLAN.model_dump(mode="json"), "when_missing": "hold",
                         "metrics": {**PLAN.model_dump(mode="json")["metrics"],
                                     "dti": {**PLAN.model_dump(mode="json")["metrics"]["dti"], "when_missing": "zero"},
                                     "csat": {**PLAN.model_dump(mode="json")["metrics"]["csat"],
                                              "when_missing": "renormalise"}}}),
]


@pytest.mark.parametrize("plan", POLICY_PLANS, ids=["zero", "hold", "mixed"])
@settings(max_examples=60, deadline=None)
@given(case=roster_case())
def test_score_employees_equals_score_one_under_each_policy(plan, case) -> None:
    emps, acts, tgts = case
    r, a, t = roster(*emps), actuals(*acts), targets(*tgts)
    matrix, scores = score_employees(plan, Q1, r, a, t)
    want_matrix, want_scores = reference_scores(plan, Q1, r, a, t)
    if want_scores:
        assert scores.select(list(want_scores[0])).to_dicts() == want_scores
    if want_matrix:
        assert matrix.select(list(want_matrix[0])).to_dicts() == want_matrix
    # missing_policy and when_missing, from the per-employee definition
    for emp in r.sort("employee_id").to_dicts():
        got = scores.filter(pl.col("employee_id") == emp["employee_id"]).row(0, named=True)
        wrow = plan.weight_row(emp["department"], emp["role"])
        got_rows = matrix.filter(pl.col("employee_id") == emp["employee_id"]).to_dicts()
        acts_ = {row["metric"]: None if row["actual_exact"] is None else F(row["actual_exact"]) for row in got_rows}
        tgts_ = {row["metric"]: None if row["target"] is None else F(row["target"]) for row in got_rows}
        rows, *_ = score_one(plan, wrow, {m: acts_.get(m) for m in wrow}, {m: tgts_.get(m) for m in wrow})
        assert [x["when_missing"] for x in rows] == [x["when_missing"] for x in got_rows]
        assert got["missing_policy"] == missing_policy_text((x["when_missing"], x["weight"]) for x in rows)
