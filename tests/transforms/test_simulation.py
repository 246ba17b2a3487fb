"""Comparing two evaluations (what-if simulation): by hand on the golden org, and the plan in force against
itself gives zero differences."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from schemas.plan import Plan
from tests.transforms import test_golden as golden
from transforms.evaluation import evaluate_period
from transforms.simulation import (
    compare_employees,
    complete_periods,
    frozen_differences,
    multiplier_distribution,
    summarise,
)

D = Decimal


def scores(plan_dict: dict) -> pl.DataFrame:
    return evaluate_period(Plan.model_validate(plan_dict), golden.Q3, golden.golden_frames(), golden.AS_OF).scores


def test_the_plan_in_force_against_itself_differs_in_nothing() -> None:
    before = scores(golden.PLAN_DICT)
    cmp = compare_employees(before, scores(golden.PLAN_DICT))
    assert cmp.height == before.height == 12
    assert set(cmp["outcome"]) == {"same"}
    assert set(cmp["composite_change"]) == set(cmp["multiplier_change"]) == {"0.000000"}
    assert set(cmp["bonus_change"]) == {D("0.00")}
    total = summarise(cmp, []).row(0, named=True)
    assert total["cost_change"] == 0 and total["gainers"] == total["losers"] == 0 and total["unchanged"] == 12
    dist = multiplier_distribution(cmp)
    assert dist["before"].to_list() == dist["after"].to_list()


def test_a_draft_compared_by_hand() -> None:
    """Draft: finance weights days_to_invoice 0.6 -> 0.5, company_revenue 0.4 -> 0.5 (revenue achievement 11/10).
    F01: dti 3/2 (cap): 0.5*1.5 + 0.5*1.1 = 1.3 (was 1.34) -> multiplier 1.6 (was 1.68);
         bonus 5000/4 * 1.6 = 2000.00 (was 2100.00): -100.00, loses.
    F02: dti 3/5: 0.5*0.6 + 0.5*1.1 = 0.85 (was 0.8) -> 0.5 + 0.05*5/2 = 0.625 (was 0.5);
         bonus 1000 * 0.625 = 625.00 (was 500.00): +125.00, gains.
    F03: dti 1: 0.5 + 0.55 = 1.05 (was 1.04) -> 1.1 (was 1.08); bonus 1100 * 61.5/92 * 1.1 = 808.858.. -> 808.86
         (was 794.15): +14.71, gains.
    Finance cost 3394.15 -> 3433.86 (+39.71); everyone else unchanged."""
    draft = {**golden.PLAN_DICT, "weights": {**golden.PLAN_DICT["weights"],
                                            "finance": {"days_to_invoice": "0.5", "company_revenue": "0.5"}}}
    cmp = compare_employees(scores(golden.PLAN_DICT), scores(draft))
    rows = {r["employee_id"]: r for r in cmp.iter_rows(named=True)}
    assert (rows["F01"]["composite_before"], rows["F01"]["composite_after"]) == ("1.340000", "1.300000")
    assert (rows["F01"]["multiplier_after"], rows["F01"]["bonus_after"], rows["F01"]["bonus_change"],
            rows["F01"]["outcome"]) == ("1.600000", D("2000.00"), D("-100.00"), "loses")
    assert (rows["F02"]["multiplier_after"], rows["F02"]["bonus_change"], rows["F02"]["outcome"]) == (
        "0.625000", D("125.00"), "gains")
    assert (rows["F03"]["bonus_before"], rows["F03"]["bonus_after"], rows["F03"]["bonus_change"]) == (
        D("794.15"), D("808.86"), D("14.71"))
    assert {r["outcome"] for e, r in rows.items() if e not in ("F01", "F02", "F03")} == {"same"}
    finance = summarise(cmp, ["period", "department"]).filter(pl.col("department") == "finance").row(0, named=True)
    assert (finance["cost_before"], finance["cost_after"], finance["cost_change"]) == (
        D("3394.15"), D("3433.86"), D("39.71"))
    assert (finance["gainers"], finance["losers"], finance["unchanged"]) == (2, 1, 0)
    total = summarise(cmp, []).row(0, named=True)
    assert total["cost_change"] == D("39.71") and (total["gainers"], total["losers"]) == (2, 1)
    # bands: F01 1.68 -> 1.6 stays in 1.5-2; F02 0.5 -> 0.625 stays in 0.5-1; F03 1.08 -> 1.1 stays in 1-1.5
    dist = multiplier_distribution(cmp)
    assert dist["before"].to_list() == dist["after"].to_list()
    # golden multipliers: M03 0; M02 .508, S01 .8625, M01 .8625, L01 .847, L03 .503, F02 .5 in 0.5-1;
    # S02 1.34, S03 1.073, L02 1.202, F03 1.08 in 1-1.5; F01 1.68 in 1.5-2
    assert dict(zip(dist["band"], dist["before"])) == {"0": 1, "0 – 0.5": 0, "0.5 – 1": 6, "1 – 1.5": 4,
                                                      "1.5 – 2": 1, "2 and above": 0}
    # per department: finance F01 1.68 (1.5-2), F02 0.5 (0.5-1), F03 1.08 (1-1.5), before and after
    by_dept = multiplier_distribution(cmp, by_department=True)
    finance = {r["band"]: (r["before"], r["after"]) for r in by_dept.iter_rows(named=True)
               if r["department"] == "finance"}
    assert finance == {"0": (0, 0), "0 – 0.5": (0, 0), "0.5 – 1": (1, 1), "1 – 1.5": (1, 1), "1.5 – 2": (1, 1),
                       "2 and above": (0, 0)}
    assert by_dept.group_by("band", maintain_order=True).agg(pl.col("before").sum())["before"].to_list() == \
        dist["before"].to_list()


def test_complete_periods_need_data_over_the_whole_period_and_an_ended_period() -> None:
    frames = golden.golden_frames()  # events from 2026-01-10 to 2026-10-01 (Bogota)
    tz = golden.PLAN_DICT["timezone"]
    assert [p.label for p in complete_periods(frames, tz, "quarter", dt.date(2026, 12, 1))] == ["2026-Q2", "2026-Q3"]
    assert [p.label for p in complete_periods(frames, tz, "quarter", dt.date(2026, 9, 30))] == ["2026-Q2"]
    assert [p.label for p in complete_periods(frames, tz, "month", dt.date(2026, 12, 1))][:1] == ["2026-02"]


def test_frozen_differences_counts_changed_added_and_gone_employees() -> None:
    frozen = pl.DataFrame({"employee_id": ["a", "b", "c", "d"],
                           "bonus_amount": [D("1.00"), D("2.00"), None, D("4.00")]})
    recomputed = pl.DataFrame({"employee_id": ["a", "b", "c", "e"],
                               "bonus_amount": [D("1.00"), D("2.50"), None, D("0.00")]})
    assert frozen_differences(frozen, recomputed) == 3  # b changed, d gone, e new; c null both sides: same
    assert frozen_differences(frozen, frozen) == 0
