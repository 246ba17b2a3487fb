"""Which periods new or changed rows touch (what `orbit serve` re-evaluates after an ingestion)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from transforms.periods import find_touched_periods

TZ = "America/Bogota"
UTC = dt.timezone.utc


def _ts(*values: str) -> pl.Series:
    return pl.Series([dt.datetime.fromisoformat(v) if v else None for v in values],
                     dtype=pl.Datetime("us", "UTC"))


def test_activities_touch_their_own_period_in_the_plan_timezone():
    rows = pl.DataFrame({"occurred_at": _ts("2026-07-01T03:00:00+00:00", "2026-10-01T04:59:00+00:00"),
                         "opportunity_id": [None, None]})
    # 2026-07-01 03:00 UTC is still June 30 in Bogota; 2026-10-01 04:59 UTC is still September 30.
    assert find_touched_periods("activities", rows, TZ, "quarter") == ["2026-Q2", "2026-Q3"]
    assert find_touched_periods("activities", rows, TZ, "month") == ["2026-06", "2026-09"]


def test_a_touch_also_touches_its_opportunity_periods_and_the_sla_window_before_it():
    rows = pl.DataFrame({"occurred_at": _ts("2026-07-01T12:00:00+00:00"), "opportunity_id": ["O1"]})
    opportunities = pl.DataFrame({"opportunity_id": ["O1", "O2"],
                                  "created_at": _ts("2026-02-10T12:00:00+00:00", "2025-01-01T00:00:00+00:00"),
                                  "closed_at": _ts("2026-11-20T12:00:00+00:00", None)})
    assert find_touched_periods("activities", rows, TZ, "quarter", opportunities=opportunities) == \
        ["2026-Q1", "2026-Q3", "2026-Q4"]
    # a first_contact on July 1st can answer a handoff made in June (24 h SLA)
    assert find_touched_periods("activities", rows, TZ, "quarter", answer_window=dt.timedelta(hours=24)) == \
        ["2026-Q2", "2026-Q3"]


def test_opportunities_touch_created_and_closed_periods():
    rows = pl.DataFrame({"created_at": _ts("2026-01-15T12:00:00+00:00", "2026-05-01T12:00:00+00:00"),
                         "closed_at": _ts("2026-08-01T12:00:00+00:00", None)})
    assert find_touched_periods("opportunities", rows, TZ, "month") == ["2026-01", "2026-05", "2026-08"]


def test_targets_touch_the_periods_their_own_period_overlaps():
    rows = pl.DataFrame({"period": ["2026-Q3", "2026-07", None]})
    assert find_touched_periods("targets", rows, TZ, "month") == ["2026-07", "2026-08", "2026-09"]
    assert find_touched_periods("targets", rows, TZ, "quarter") == ["2026-Q3"]


def test_roster_rows_touch_every_period_and_no_rows_touch_none():
    assert find_touched_periods("employees", pl.DataFrame(), TZ, "quarter") is None
    empty = pl.DataFrame({"measured_at": _ts()})
    assert find_touched_periods("measurements", empty, TZ, "quarter") == []


def test_an_unknown_period_kind_is_refused():
    with pytest.raises(ValueError):
        find_touched_periods("feedback", pl.DataFrame({"responded_at": _ts("2026-07-01T12:00:00+00:00")}), TZ, "week")


def test_touched_columns_come_from_the_contract_event_times(default_plans):
    from transforms.periods import answer_window, touched_columns

    assert touched_columns("opportunities") == ["created_at", "closed_at"]
    assert touched_columns("activities") == ["occurred_at", "opportunity_id"]
    assert touched_columns("targets") == ["period"] and touched_columns("employees") == []
    assert answer_window(default_plans) == dt.timedelta(hours=24)  # the default plan's lead_sla
