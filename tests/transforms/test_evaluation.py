import datetime as dt
from decimal import Decimal

import polars as pl

from schemas.derive import polars_schema
from transforms.evaluation import find_periods, summarize_departments

UTC = dt.timezone.utc


def _empty():
    return {n: pl.DataFrame(schema=polars_schema(n)) for n in
            ("employees", "opportunities", "activities", "measurements", "feedback", "targets")}


def test_find_periods_spans_first_to_last_event_in_plan_timezone():
    frames = _empty()
    frames["activities"] = pl.DataFrame(
        {"occurred_at": [dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), dt.datetime(2026, 10, 1, 3, tzinfo=UTC)]},
        schema={"occurred_at": pl.Datetime("us", "UTC")})
    labels = [p.label for p in find_periods(frames, "America/Bogota", "quarter")]
    assert labels == ["2026-Q1", "2026-Q2", "2026-Q3"]  # 2026-10-01 03:00Z is still 30 Sep in Bogota
    assert [p.label for p in find_periods(frames, "Europe/Madrid", "quarter")] == [
        "2026-Q2", "2026-Q3", "2026-Q4"]
    assert find_periods(_empty(), "UTC", "month") == []


def test_summarize_departments_averages_included_achievements_only():
    matrix = pl.DataFrame({
        "period": ["2026-Q3"] * 3, "department": ["sales"] * 3, "metric": ["csat"] * 3,
        "achievement": [Decimal("1.0"), Decimal("0.5"), None], "included": [True, True, False],
    })
    out = summarize_departments(matrix)
    assert out.select("mean_achievement", "employees").rows() == [(0.75, 2)]


def test_find_periods_dates_data_by_the_contract_data_time():
    """An opportunity is data of the period it closed in (the contract's ``data_time``), not of the one it
    was created in."""
    frames = _empty()
    at = [dt.datetime(2026, 2, 10, tzinfo=UTC), dt.datetime(2026, 7, 1, 12, tzinfo=UTC)]
    frames["opportunities"] = pl.DataFrame({"created_at": at[:1], "closed_at": at[1:]},
                                           schema={"created_at": pl.Datetime("us", "UTC"),
                                                   "closed_at": pl.Datetime("us", "UTC")})
    assert [p.label for p in find_periods(frames, "UTC", "quarter")] == ["2026-Q3"]
