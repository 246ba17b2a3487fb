"""Which days of a period the data covers, and whether the period is ``partial`` (pure).

DESIGN "Partial periods": a period is partial while it has not ended — its last day is after
today or after the latest data loaded — or when its data starts after its first day. Partial
results look like complete ones unless they say so: the marts, ``orbit status``, the report and
HR's export carry ``partial`` with the first and last day with data, and ``orbit close`` refuses a
partial period unless told otherwise.

"Data" are the dated events that make a period have data (the same columns as
:func:`transforms.evaluation.find_periods`): activities by ``occurred_at``, opportunities by
``closed_at``, measurements by ``measured_at``, feedback by ``responded_at``. Days are local
dates in the plan's timezone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

from schemas.contracts import DATASETS
from transforms.periods import Period

#: The timestamp of each dataset that dates its rows as data of a period (the contract's ``data_time``).
DATA_COLUMNS: dict[str, str] = {d.name: d.data_time for d in DATASETS.values() if d.data_time}

_UTC = dt.timezone.utc
_DT = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Coverage:
    """What a period's data covers. ``first_data_day`` / ``last_data_day`` are None when it has none."""

    period: Period
    first_data_day: dt.date | None
    last_data_day: dt.date | None
    partial: bool
    reason: str | None  # why it is partial, for people (None when complete)

    @property
    def has_data(self) -> bool:
        return self.first_data_day is not None


def local_day(instant: dt.datetime | None, tz: str | ZoneInfo) -> dt.date | None:
    """The local date in ``tz`` of a UTC instant (a naive one is read as UTC)."""
    if instant is None:
        return None
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    aware = instant.replace(tzinfo=_UTC) if instant.tzinfo is None else instant
    return aware.astimezone(zone).date()


def _as_utc(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    expr = pl.col(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return expr.dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone != "UTC":
        return expr.dt.convert_time_zone("UTC")
    return expr


def data_extent(frames: dict[str, pl.DataFrame], start: dt.datetime | None = None,
                end: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last instant (UTC) of the data in ``[start, end)`` (unbounded when None)."""
    lows, highs = [], []
    for name, column in DATA_COLUMNS.items():
        frame = frames.get(name)
        if frame is None or frame.height == 0 or column not in frame.columns:
            continue
        at = _as_utc(frame, column)
        keep = at.is_not_null()
        if start is not None:
            keep &= at >= pl.lit(start, dtype=_DT)
        if end is not None:
            keep &= at < pl.lit(end, dtype=_DT)
        lo, hi = frame.select(at.filter(keep).min().alias("lo"), at.filter(keep).max().alias("hi")).row(0)
        if lo is not None:
            lows.append(lo)
            highs.append(hi)
    return (min(lows), max(highs)) if lows else (None, None)


def no_data_message(label: str, extent: tuple[dt.datetime | None, dt.datetime | None], tz: str) -> str:
    """One line: period ``label`` has no data, and the days the loaded data (``extent``: first and last
    instant of all data) does cover."""
    first, last = extent
    if first is None:
        return f"period {label} has no data: nothing is loaded yet (`orbit ingest` loads landing/)"
    return (f"period {label} has no data: the data loaded runs from {local_day(first, tz)} to "
            f"{local_day(last, tz)}")


def judge_coverage(period: Period, first_data_day: dt.date | None, last_data_day: dt.date | None,
                   latest_data_day: dt.date | None, today: dt.date | None) -> Coverage:
    """Whether ``period`` is partial, given the days its data covers, the latest day of any data
    loaded and today (None: not checked); the reason names the first rule that makes it partial."""
    reason = None
    if first_data_day is None:
        reason = "it has no data"
    elif today is not None and period.end > today:
        reason = f"it has not ended: it runs to {period.end}, today is {today}"
    elif latest_data_day is not None and period.end > latest_data_day:
        reason = f"its data ends on {latest_data_day}, before its last day {period.end}"
    elif first_data_day > period.start:
        reason = f"its data starts on {first_data_day}, after its first day {period.start}"
    return Coverage(period, first_data_day, last_data_day, reason is not None, reason)


def period_coverage(frames: dict[str, pl.DataFrame], period: Period, tz: str, today: dt.date | None,
                    latest_data_day: dt.date | None = None) -> Coverage:
    """:func:`judge_coverage` of ``period`` on the loaded ``frames`` (``latest_data_day``: the last day of
    all data loaded, computed from ``frames`` unless given)."""
    first, last = data_extent(frames, period.start_utc(tz), period.end_utc(tz))
    if latest_data_day is None:
        latest_data_day = local_day(data_extent(frames)[1], tz)
    return judge_coverage(period, local_day(first, tz), local_day(last, tz), latest_data_day, today)


def with_coverage(scores: pl.DataFrame, coverage: Coverage) -> pl.DataFrame:
    """``scores`` with the period's ``partial``, ``first_data_day`` and ``last_data_day`` on every row."""
    return scores.with_columns(
        pl.lit(coverage.partial, dtype=pl.Boolean).alias("partial"),
        pl.lit(coverage.first_data_day, dtype=pl.Date).alias("first_data_day"),
        pl.lit(coverage.last_data_day, dtype=pl.Date).alias("last_data_day"),
    )
