import datetime as dt

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from transforms.coverage import data_extent, judge_coverage, period_coverage, with_coverage
from transforms.periods import parse_period

TZ = "America/Bogota"  # UTC-5
Q4 = parse_period("2026-Q4")


def _at(*stamps: str) -> pl.Series:
    return pl.Series([dt.datetime.fromisoformat(s) for s in stamps], dtype=pl.Datetime("us", "UTC"))


def _frames(activities=(), closed=(), measured=(), responded=()) -> dict[str, pl.DataFrame]:
    return {
        "activities": pl.DataFrame({"occurred_at": _at(*activities)}),
        "opportunities": pl.DataFrame({"closed_at": _at(*closed)}),
        "measurements": pl.DataFrame({"measured_at": _at(*measured)}),
        "feedback": pl.DataFrame({"responded_at": _at(*responded)}),
    }


def test_data_to_the_last_day_of_an_ended_quarter_is_complete():
    frames = _frames(activities=["2026-10-01T05:00:00", "2026-12-31T20:00:00"], measured=["2026-11-15T12:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=dt.date(2027, 1, 10))
    assert (cov.first_data_day, cov.last_data_day, cov.partial, cov.reason) == (
        dt.date(2026, 10, 1), dt.date(2026, 12, 31), False, None)


def test_days_are_read_in_the_plans_timezone():
    # 2026-10-01T04:59 UTC is still 30 September in Bogota; 2027-01-01T04:00 UTC is 31 December there
    frames = _frames(activities=["2026-10-01T04:59:00", "2026-10-01T05:00:00", "2027-01-01T04:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=dt.date(2027, 1, 10))
    assert (cov.first_data_day, cov.last_data_day) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert not cov.partial


def test_a_quarter_that_has_not_ended_is_partial():
    # the case: on 2026-12-03, with data up to 11-30
    frames = _frames(activities=["2026-10-01T12:00:00", "2026-11-30T12:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=dt.date(2026, 12, 3))
    assert cov.partial and cov.reason == "it has not ended: it runs to 2026-12-31, today is 2026-12-03"
    assert cov.last_data_day == dt.date(2026, 11, 30)


def test_a_quarter_after_the_latest_data_is_partial_even_when_today_is_later():
    frames = _frames(activities=["2026-10-01T12:00:00", "2026-11-30T12:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=dt.date(2027, 3, 1))
    assert cov.partial and cov.reason == "its data ends on 2026-11-30, before its last day 2026-12-31"


def test_the_latest_data_of_any_dataset_counts():
    # activities stop in November but a survey answered on the last day shows the data reaches it
    frames = _frames(activities=["2026-10-01T12:00:00", "2026-11-30T12:00:00"], responded=["2026-12-31T12:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=dt.date(2027, 1, 5))
    assert not cov.partial and cov.last_data_day == dt.date(2026, 12, 31)


def test_data_starting_after_the_first_day_is_partial():
    # the demo's first quarter: one month of data
    frames = _frames(activities=["2026-12-01T12:00:00"], closed=["2027-02-01T12:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=dt.date(2027, 3, 1))
    assert cov.partial and cov.reason == "its data starts on 2026-12-01, after its first day 2026-10-01"
    assert (cov.first_data_day, cov.last_data_day) == (dt.date(2026, 12, 1), dt.date(2026, 12, 1))


def test_a_period_without_data():
    frames = _frames(activities=["2026-06-01T12:00:00"])
    cov = period_coverage(frames, Q4, TZ, today=None)
    assert not cov.has_data and cov.partial and cov.reason == "it has no data"
    assert data_extent(_frames()) == (None, None)


def test_with_coverage_stamps_every_score_row():
    cov = judge_coverage(Q4, dt.date(2026, 10, 2), dt.date(2026, 12, 30), dt.date(2026, 12, 30), None)
    out = with_coverage(pl.DataFrame({"employee_id": ["a", "b"]}), cov)
    assert out.schema["partial"] == pl.Boolean and out.schema["first_data_day"] == pl.Date
    assert out["partial"].to_list() == [True, True]
    assert out["last_data_day"].to_list() == [dt.date(2026, 12, 30)] * 2


_DAYS = st.dates(min_value=dt.date(2026, 9, 1), max_value=dt.date(2027, 2, 28))


@given(first=_DAYS, length=st.integers(0, 120), latest_extra=st.integers(0, 60), today=_DAYS)
def test_complete_exactly_when_the_data_covers_the_whole_ended_period(first, length, latest_extra, today):
    last = first + dt.timedelta(days=length)
    if first > Q4.end or last < Q4.start:
        return
    first_in, last_in = max(first, Q4.start), min(last, Q4.end)
    latest = last + dt.timedelta(days=latest_extra)
    cov = judge_coverage(Q4, first_in, last_in, latest, today)
    complete = first_in == Q4.start and latest >= Q4.end and today >= Q4.end
    assert cov.partial is (not complete)
    assert (cov.reason is None) is complete
