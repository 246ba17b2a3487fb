import datetime as dt

import polars as pl
import pytest

from schemas.derive import polars_schema
from transforms.runs import content_hash, make_run_id, plan_periods

UTC = dt.timezone.utc


def test_run_id_depends_on_every_input_hash_and_the_plan_bytes():
    base = make_run_id(["a" * 64, "b" * 64], b"plan")
    assert base == make_run_id(["a" * 64, "b" * 64], b"plan") and len(base) == 32
    assert base != make_run_id(["a" * 64], b"plan")
    assert base != make_run_id(["a" * 64, "b" * 64], b"plan ")
    assert content_hash("ab", "c") != content_hash("a", "bc")  # part boundaries count


def test_plan_periods_pairs_each_period_with_the_plan_in_force_and_skips_what_cannot_be_evaluated(default_plans):
    plans = default_plans  # in force from 2024-01-01, quarterly
    frames = {n: pl.DataFrame(schema=polars_schema(n)) for n in
              ("employees", "opportunities", "activities", "measurements", "feedback", "targets")}
    frames["activities"] = pl.DataFrame({"occurred_at": [dt.datetime(2023, 11, 2, tzinfo=UTC),
                                                         dt.datetime(2026, 5, 2, tzinfo=UTC)]},
                                        schema={"occurred_at": pl.Datetime("us", "UTC")})
    planned, skipped = plan_periods(plans, ["2023-Q4", "2026-Q2", "2026-Q3"], frames)
    assert [(plan.version, period.label) for plan, period in planned] == [(plans.base.version, "2026-Q2")]
    assert [label for label, _ in skipped] == ["2023-Q4", "2026-Q3"]
    assert "no plan in force on 2023-10-01" in skipped[0][1] and "2026-Q3" in skipped[1][1]
    planned, skipped = plan_periods(plans, None, frames)
    assert [p.label for _, p in planned] == ["2026-Q2"] and skipped[0][0] == "2023-Q4"  # quarters between: no data
    with pytest.raises(ValueError, match="2026-07 is a month, but the plan evaluates by quarter: use 2026-Q3"):
        plan_periods(plans, ["2026-07"], frames)
