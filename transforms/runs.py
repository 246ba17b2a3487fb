"""What an evaluation run is, decided purely: its content-addressed id and the periods it evaluates,
each under the plan in force."""

from __future__ import annotations

import hashlib

import polars as pl

from schemas.plan import Plan, PlanSet
from transforms.coverage import data_extent, no_data_message
from transforms.evaluation import find_periods
from transforms.periods import Period, check_period_kind


def content_hash(*parts: str | bytes) -> str:
    """SHA-256 over ``parts`` (each followed by a NUL, so part boundaries count)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return h.hexdigest()


def make_run_id(input_hashes: list[str], plan_bytes: bytes) -> str:
    """Same input files (their SHA-256s, sorted) and plan content -> same run_id."""
    return content_hash(*input_hashes, plan_bytes)[:32]


def plan_periods(plans: PlanSet, periods: list[str] | None, frames: dict[str, pl.DataFrame]
                 ) -> tuple[list[tuple[Plan, Period]], list[tuple[str, str]]]:
    """The periods to evaluate — ``periods`` (labels), or every period with data in ``frames`` — each with
    the plan in force at its start; and those skipped, with why: no data (a period touched only through a
    window or a target, or a gap in the data), or no plan in force.

    A period asked for of the other kind (a month for a quarterly plan) raises ValueError naming the
    period(s) to use."""
    base = plans.base
    wanted = ([check_period_kind(p, base.period) for p in periods] if periods
              else find_periods(frames, base.timezone, base.period))
    extent = data_extent(frames)
    planned: list[tuple[Plan, Period]] = []
    skipped: list[tuple[str, str]] = []
    for period in wanted:
        if not data_extent(frames, period.start_utc(base.timezone), period.end_utc(base.timezone))[0]:
            skipped.append((period.label, no_data_message(period.label, extent, base.timezone)))
            continue
        plan = plans.for_period_start(period.start)
        if plan is None:
            skipped.append((period.label, f"no plan in force on {period.start}, the first day of {period.label}"))
        else:
            planned.append((plan, period))
    return planned, skipped
