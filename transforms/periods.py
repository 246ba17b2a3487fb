"""Evaluation periods: months (``2026-07``) and quarters (``2026-Q3``).

An event belongs to the period in which its UTC timestamp falls once read in the
plan's timezone (DESIGN "Computation"). Everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

import polars as pl

from schemas.contracts import DATASETS

PeriodKind = Literal["month", "quarter"]
_KINDS = ("month", "quarter")
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
_UTC = dt.timezone.utc

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True, order=True)
class Period:
    """One evaluation period; ``start`` and ``end`` are inclusive local dates."""

    label: str
    kind: PeriodKind
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Number of calendar days in the period."""
        return (self.end - self.start).days + 1

    @property
    def share(self) -> Fraction:
        """Share of a year: 1/12 for a month, 1/4 for a quarter."""
        return Fraction(1, 12) if self.kind == "month" else Fraction(1, 4)

    @property
    def share_text(self) -> str:
        return f"{self.share.numerator}/{self.share.denominator}"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    @property
    def next(self) -> Period:
        return period_of(self.end + dt.timedelta(days=1), self.kind)

    @property
    def previous(self) -> Period:
        return period_of(self.start - dt.timedelta(days=1), self.kind)

    def start_utc(self, tz: str | ZoneInfo) -> dt.datetime:
        """First instant of the period (aware, UTC) in timezone ``tz``."""
        return day_start_utc(self.start, tz)

    def end_utc(self, tz: str | ZoneInfo) -> dt.datetime:
        """First instant *after* the period (aware, UTC): the period is [start_utc, end_utc)."""
        return day_start_utc(self.end + dt.timedelta(days=1), tz)

    def __str__(self) -> str:
        return self.label


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def day_start_utc(day: dt.date, tz: str | ZoneInfo) -> dt.datetime:
    """The first instant (UTC) whose local date in ``tz`` is ``day``.

    Handles a midnight that is skipped (DST gap) or repeated (DST overlap).
    """
    zone = _zone(tz)
    naive = dt.datetime.combine(day, dt.time(0))
    candidates = sorted({naive.replace(tzinfo=zone, fold=f).astimezone(_UTC) for f in (0, 1)})
    for c in candidates:
        if c.astimezone(zone).date() == day:
            return c
    return candidates[0]  # a day that does not exist in the zone: nearest boundary


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"unknown period kind {kind!r}: use 'month' or 'quarter'")


def _month(year: int, month: int) -> Period:
    start = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return Period(f"{year:04d}-{month:02d}", "month", start, nxt - dt.timedelta(days=1))


def _quarter(year: int, q: int) -> Period:
    start = dt.date(year, 3 * (q - 1) + 1, 1)
    nxt = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)
    return Period(f"{year:04d}-Q{q}", "quarter", start, nxt - dt.timedelta(days=1))


def parse_period(label: str) -> Period:
    """Parse ``2026-07`` (a month) or ``2026-Q3`` (a quarter)."""
    if not isinstance(label, str):
        raise ValueError(f"a period must be text such as 2026-07 or 2026-Q3, got {label!r}")
    text = label.strip()
    if m := _MONTH_RE.match(text):
        return _month(int(m.group(1)), int(m.group(2)))
    if m := _QUARTER_RE.match(text.upper()):
        return _quarter(int(m.group(1)), int(m.group(2)))
    raise ValueError(
        f"invalid period {label!r}: write a month as YYYY-MM (e.g. 2026-07) or a quarter as YYYY-Qn (e.g. 2026-Q3)"
    )


def check_period_kind(label: str, kind: str) -> Period:
    """Parse ``label`` and check it is a period of ``kind`` (the plan's); the ValueError of one of the other
    kind names the period(s) of ``kind`` to use instead (2026-08 on a quarterly plan: 2026-Q3)."""
    _check_kind(kind)
    period = parse_period(label)
    if period.kind != kind:
        instead = periods_spanning(period.start, period.end, kind)
        names = [p.label for p in instead]
        use = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValueError(f"period {period.label} is a {period.kind}, but the plan evaluates by {kind}: "
                         f"use {use}")
    return period


def period_of(day: dt.date, kind: str) -> Period:
    """The month or quarter containing local date ``day``."""
    _check_kind(kind)
    if isinstance(day, dt.datetime):
        day = day.date()
    if kind == "month":
        return _month(day.year, day.month)
    return _quarter(day.year, (day.month - 1) // 3 + 1)


def periods_spanning(first: dt.date, last: dt.date, kind: str) -> list[Period]:
    """Every period of ``kind`` from the one containing ``first`` to the one containing ``last`` (empty if first > last)."""
    _check_kind(kind)
    if first > last:
        return []
    out = [period_of(first, kind)]
    stop = period_of(last, kind)
    while out[-1] != stop:
        out.append(out[-1].next)
    return out


def _utc_expr(frame: pl.DataFrame | pl.LazyFrame, column: str) -> pl.Expr:
    dtype = frame.collect_schema()[column]
    expr = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            expr = expr.dt.replace_time_zone("UTC")
        elif dtype.time_zone != "UTC":
            expr = expr.dt.convert_time_zone("UTC")
        return expr
    if dtype == pl.Date:
        raise TypeError(f"column {column!r} is a Date; periods are assigned from UTC timestamps")
    raise TypeError(f"column {column!r} must be a Datetime, got {dtype}")


def local_date(frame: pl.DataFrame | pl.LazyFrame, column: str, tz: str) -> pl.Expr:
    """Expression: local date in ``tz`` of the timestamp ``column`` of ``frame``."""
    return _utc_expr(frame, column).dt.convert_time_zone(tz).dt.date()


def in_period(frame: pl.DataFrame | pl.LazyFrame, column: str, tz: str, period: Period) -> pl.Expr:
    """Boolean expression: the timestamp ``column`` falls in ``period`` read in ``tz``.

    A cheap UTC pre-test (a day of margin each side) is and-ed with the exact local-date test,
    so the result is identical to :func:`assign_period` but prunes most rows early.
    """
    utc = _utc_expr(frame, column)
    exact = utc.dt.convert_time_zone(tz).dt.date().is_between(period.start, period.end, closed="both")
    return _near(utc, tz, period) & exact


def _near(utc: pl.Expr, tz: str, period: Period) -> pl.Expr:
    """The UTC instants from a day before ``period`` starts to a day after it ends (in ``tz``)."""
    lo = period.start_utc(tz) - dt.timedelta(days=1)
    hi = period.end_utc(tz) + dt.timedelta(days=1)
    return (utc >= pl.lit(lo, dtype=pl.Datetime("us", "UTC"))) & (utc < pl.lit(hi, dtype=pl.Datetime("us", "UTC")))


def select_period(frame: pl.DataFrame | pl.LazyFrame, column: str, tz: str, period: Period) -> pl.DataFrame:
    """The rows of ``frame`` whose timestamp ``column`` falls in ``period`` read in ``tz``.

    The same rows as filtering on :func:`in_period`, but the cheap UTC window is applied (and
    materialised) first, so only the rows near the period pay for the local-date conversion:
    over millions of events, a fraction of the cost.
    """
    near = frame.lazy().filter(_near(_utc_expr(frame, column), tz, period)).collect()
    return near.filter(in_period(near, column, tz, period))


def assign_period(frame: FrameT, column: str, tz: str, kind: str, out: str = "period") -> FrameT:
    """Add column ``out``: the label of the period in which the UTC timestamp ``column`` falls in ``tz``.

    e.g. 2026-09-30T23:30:00-05:00 is 2026-Q3 in America/Bogota and 2026-Q4 in Europe/Madrid.
    Null timestamps give a null label.
    """
    _check_kind(kind)
    _zone(tz)  # validate early with a clear error
    local = _utc_expr(frame, column).dt.convert_time_zone(tz)
    year = local.dt.year().cast(pl.Utf8).str.zfill(4)
    if kind == "month":
        suffix = local.dt.month().cast(pl.Utf8).str.zfill(2)
        label = pl.concat_str([year, pl.lit("-"), suffix])
    else:
        label = pl.concat_str([year, pl.lit("-Q"), local.dt.quarter().cast(pl.Utf8)])
    return frame.with_columns(label.alias(out))


def touched_columns(dataset: str) -> list[str]:
    """The columns :func:`find_touched_periods` reads from a dataset's new or changed rows: its event times
    (the contract's), the period of a target, the opportunity an activity carries; none of a roster row
    (it touches every period)."""
    if dataset == "employees":
        return []
    if dataset == "targets":
        return ["period"]
    extra = ["opportunity_id"] if dataset == "activities" else []
    return [*DATASETS[dataset].event_times, *extra]


def answer_window(plans) -> dt.timedelta:
    """How far back a ``first_contact`` can answer a handoff: the longest ``sla_hours`` of any plan (0 if none)."""
    sla = [m.sla_hours for p in plans.plans for m in p.metrics.values() if m.sla_hours is not None]
    return dt.timedelta(hours=float(max(sla))) if sla else dt.timedelta(0)


def find_touched_periods(
    dataset: str,
    rows: pl.DataFrame,
    tz: str,
    kind: str,
    *,
    opportunities: pl.DataFrame | None = None,
    answer_window: dt.timedelta = dt.timedelta(0),
) -> list[str] | None:
    """Labels (sorted) of the periods whose results new or changed ``rows`` of ``dataset`` can change.

    ``None`` means every period: a roster row (``employees``) changes each period it covers,
    open-ended rows every later one. ``targets`` touch the periods their own period overlaps.
    Other rows touch the periods of their event times (``event_times`` in the contract); an activity also
    touches the period ``answer_window`` earlier (a ``first_contact`` answers a handoff made up
    to the SLA before it) and the ``created_at`` / ``closed_at`` periods of the opportunity it
    carries (``opportunities``: opportunity_id, created_at, closed_at), whose prospecting and
    attribution it changes.
    """
    _check_kind(kind)
    if dataset == "employees":
        return None
    if rows.height == 0:
        return []
    if dataset == "targets":
        labels: set[str] = set()
        for label in rows.get_column("period").unique().drop_nulls().to_list():
            own = parse_period(label)
            labels.update(p.label for p in periods_spanning(own.start, own.end, kind))
        return sorted(labels)
    stamps = [rows.select(pl.col(c).alias("at")) for c in DATASETS[dataset].event_times]
    if dataset == "activities":
        if answer_window:
            stamps.append(rows.select((pl.col("occurred_at") - answer_window).alias("at")))
        if opportunities is not None and opportunities.height:
            carried = opportunities.join(rows.select("opportunity_id").drop_nulls().unique(), on="opportunity_id")
            stamps += [carried.select(pl.col(c).alias("at")) for c in ("created_at", "closed_at")]
    at = pl.concat(stamps).drop_nulls()
    return sorted(assign_period(at, "at", tz, kind).get_column("period").unique().to_list())
