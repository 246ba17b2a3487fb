from __future__ import annotations

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.periods import (
    Period,
    assign_period,
    day_start_utc,
    in_period,
    parse_period,
    period_of,
    periods_spanning,
    select_period,
)

UTC = dt.timezone.utc
TS = pl.Datetime("us", "UTC")


def _frame(*instants: dt.datetime | None) -> pl.DataFrame:
    return pl.DataFrame({"t": list(instants)}, schema={"t": TS})


# ---- parse_period / period_of / periods_spanning ---------------------------------------------
def test_parse_month() -> None:
    p = parse_period("2026-07")
    assert p == Period("2026-07", "month", dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    assert p.days == 31
    assert p.share == Fraction(1, 12)
    assert p.share_text == "1/12"


def test_parse_quarter() -> None:
    p = parse_period("2026-Q3")
    assert (p.kind, p.start, p.end, p.days, p.share) == ("quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30), 92,
                                                         Fraction(1, 4))
    assert parse_period("2026-Q4").end == dt.date(2026, 12, 31)
    assert parse_period("2024-Q1").days == 91  # leap year
    assert parse_period("2024-02").days == 29


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-Q5", "2026-Q0", "26-07", "2026-7", "", "2026/07", "Q3-2026"])
def test_parse_period_rejects_with_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM .*YYYY-Qn"):
        parse_period(bad)


def test_period_of() -> None:
    assert period_of(dt.date(2026, 2, 28), "month").label == "2026-02"
    assert period_of(dt.date(2026, 12, 31), "quarter").label == "2026-Q4"
    assert period_of(dt.date(2026, 4, 1), "quarter").label == "2026-Q2"
    with pytest.raises(ValueError, match="month' or 'quarter"):
        period_of(dt.date(2026, 1, 1), "week")


def test_periods_spanning_crosses_years() -> None:
    labels = [p.label for p in periods_spanning(dt.date(2025, 11, 15), dt.date(2026, 2, 1), "month")]
    assert labels == ["2025-11", "2025-12", "2026-01", "2026-02"]
    labels = [p.label for p in periods_spanning(dt.date(2025, 12, 31), dt.date(2026, 1, 1), "quarter")]
    assert labels == ["2025-Q4", "2026-Q1"]
    assert periods_spanning(dt.date(2026, 3, 1), dt.date(2026, 3, 1), "quarter")[0].label == "2026-Q1"
    assert periods_spanning(dt.date(2026, 3, 2), dt.date(2026, 3, 1), "month") == []


def test_next_previous() -> None:
    assert parse_period("2026-12").next.label == "2027-01"
    assert parse_period("2026-Q1").previous.label == "2025-Q4"


# ---- assign_period ------------------------------------------------------------------------------
def test_assign_period_design_example_bogota_vs_madrid() -> None:
    instant = dt.datetime(2026, 9, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    df = _frame(instant)
    assert assign_period(df, "t", "America/Bogota", "quarter")["period"].to_list() == ["2026-Q3"]
    assert assign_period(df, "t", "Europe/Madrid", "quarter")["period"].to_list() == ["2026-Q4"]
    assert assign_period(df, "t", "America/Bogota", "month")["period"].to_list() == ["2026-09"]
    assert assign_period(df, "t", "Europe/Madrid", "month", out="p")["p"].to_list() == ["2026-10"]


def test_assign_period_lazy_and_nulls() -> None:
    lf = _frame(dt.datetime(2026, 1, 1, 4, 59, tzinfo=UTC), dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC), None).lazy()
    out = assign_period(lf, "t", "America/Bogota", "month")
    assert isinstance(out, pl.LazyFrame)
    assert out.collect()["period"].to_list() == ["2025-12", "2026-01", None]


def test_assign_period_dst_boundary_madrid() -> None:
    # 2026-03-31T22:30Z is 2026-04-01 00:30 CEST (UTC+2): April / Q2 in Madrid
    df = _frame(dt.datetime(2026, 3, 31, 22, 30, tzinfo=UTC), dt.datetime(2026, 3, 31, 21, 59, tzinfo=UTC))
    assert assign_period(df, "t", "Europe/Madrid", "quarter")["period"].to_list() == ["2026-Q2", "2026-Q1"]


def test_assign_period_naive_column_is_utc() -> None:
    df = pl.DataFrame({"t": [dt.datetime(2026, 7, 1, 4, 0)]})
    assert assign_period(df, "t", "America/Bogota", "quarter")["period"].to_list() == ["2026-Q2"]


def test_period_instants() -> None:
    p = parse_period("2026-Q3")
    assert p.start_utc("America/Bogota") == dt.datetime(2026, 7, 1, 5, tzinfo=UTC)
    assert p.end_utc("America/Bogota") == dt.datetime(2026, 10, 1, 5, tzinfo=UTC)
    assert p.start_utc("Europe/Madrid") == dt.datetime(2026, 6, 30, 22, tzinfo=UTC)


def test_day_start_utc_on_a_skipped_midnight() -> None:
    # America/Santiago jumps from 24:00 to 01:00 on 2024-09-08: the day starts at 04:00Z
    assert day_start_utc(dt.date(2024, 9, 8), "America/Santiago") == dt.datetime(2024, 9, 8, 4, tzinfo=UTC)
    # ... and falls back from 24:00 to 23:00 on 2024-04-06: 2024-04-07 starts at 04:00Z
    assert day_start_utc(dt.date(2024, 4, 7), "America/Santiago") == dt.datetime(2024, 4, 7, 4, tzinfo=UTC)


ZONES = ["America/Bogota", "Europe/Madrid", "Asia/Kolkata", "Pacific/Auckland", "America/Santiago", "UTC"]


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31)),
    st.sampled_from(ZONES),
    st.sampled_from(["month", "quarter"]),
)
def test_in_period_agrees_with_assign_period(naive: dt.datetime, tz: str, kind: str) -> None:
    instant = naive.replace(tzinfo=UTC)
    df = _frame(instant)
    label = assign_period(df, "t", tz, kind)["period"].item()
    expected = period_of(instant.astimezone(ZoneInfo(tz)).date(), kind)
    assert label == expected.label
    assert df.select(in_period(df, "t", tz, expected)).item() is True
    assert df.select(in_period(df, "t", tz, expected.next)).item() is False
    assert df.select(in_period(df, "t", tz, expected.previous)).item() is False
    assert expected.start_utc(tz) <= instant < expected.end_utc(tz)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)), max_size=40),
    st.sampled_from(ZONES),
    st.sampled_from(["2026-Q1", "2026-03", "2026-Q4", "2026-10"]),
)
def test_select_period_keeps_the_rows_in_period_keeps(naives: list[dt.datetime], tz: str, label: str) -> None:
    df = _frame(*(n.replace(tzinfo=UTC) for n in naives), None).with_row_index("i")
    period = parse_period(label)
    assert select_period(df, "t", tz, period).equals(df.filter(in_period(df, "t", tz, period)))
    assert select_period(df.lazy(), "t", tz, period).equals(df.filter(in_period(df, "t", tz, period)))
