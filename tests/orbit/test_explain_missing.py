"""`orbit explain` flags what the plan's missing-data policy did, on the tiny organisation's E4 (no feedback at
all: csat has no actual). Weights csat 0.4, tickets 0.2, referrals 0.1, contribution 0.1, company_revenue 0.2;
tickets 0/60, referrals 0/3 and contribution 0/5000 give 0, company revenue 10,000 / 2,500,000 = 1/250.
  renormalise: csat left out, company_revenue 0.2/0.6 = 1/3 -> composite 1/750
  zero:        csat counted as 0 -> composite 0.2 x 1/250 = 1/1250
  hold:        composite as renormalised (1/750), bonus held
(all below the curve's 0.8: multiplier 0, bonus 0.00)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from orbit.explain import gather_explanation, render_explanation
from schemas.plan import PlanSet
from tests import tiny_org
from transforms.evaluation import evaluate_period
from transforms.quality import find_orphans
from warehouse.db import open_warehouse
from warehouse.marts import write_period_marts

T0 = dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.timezone.utc)
CASES = {
    "renormalise": ("1/750", "renormalise", "left out: no_actual",
                    "INCOMPLETE: csat: no actual (weights of the remaining metrics renormalised)"),
    "zero": ("1/1250", "zero", "counted as 0: no_actual", "INCOMPLETE: csat: no actual (counted as 0)"),
    "hold": ("1/750", "hold", "left out, bonus held: no_actual",
             "INCOMPLETE: held (bonus 0 until the data is complete): csat: no actual"),
}


@pytest.mark.parametrize("policy", sorted(CASES))
def test_explain_shows_what_the_policy_did(policy, tmp_path) -> None:
    plan = tiny_org.plan()
    metrics = {**plan.metrics, "csat": plan.metrics["csat"].model_copy(update={"when_missing": policy})}
    draft = plan.model_copy(update={"metrics": metrics})
    result = evaluate_period(draft, tiny_org.period(), tiny_org.frames(), tiny_org.AS_OF)
    with open_warehouse(tmp_path / "w.duckdb") as con:
        write_period_marts(con, [result], run_id="r" * 16, input_hashes=["h"], started_at=T0,
                           quality=find_orphans(tiny_org.frames(), sorted(plan.metrics)))
        used, s = gather_explanation(con, "E4", tiny_org.PERIOD, PlanSet([draft], tmp_path))
    composite, flag, note, line = CASES[policy]
    assert (s.composite, s.missing_policy, s.incomplete) == (Fraction(composite), flag, True)
    assert s.bonus.amount == 0 and s.bonus.held is (policy == "hold")
    [csat] = [m for m in s.metrics if m.metric == "csat"]
    assert csat.when_missing == policy and csat.included is (policy == "zero")
    text = render_explanation(used, s)
    assert note in text and line in text
