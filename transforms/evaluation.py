"""One period's evaluation, composed from the pure transforms (still no I/O).

frames in (the six datasets, typed as in docs/dev/frames.md) -> the period's marts out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from schemas.contracts import CLOSED_STAGES
from schemas.plan import Plan
from transforms.attribution import attribute_credits, build_touches
from transforms.coverage import DATA_COLUMNS, Coverage, period_coverage, with_coverage
from transforms.funnel import FUNNEL_SCHEMA, revenue_funnel
from transforms.metrics import INPUT_SCHEMAS, compute_actuals, resolve_targets
from transforms.periods import Period, in_period, local_date, periods_spanning
from transforms.roster import INPUT_COLUMNS as ROSTER_COLUMNS
from transforms.roster import resolve_roster
from transforms.scoring import score_employees

#: Timestamp columns whose periods make a period "have data" (the same that date coverage).
_EVENT_COLUMNS = DATA_COLUMNS

#: The columns of each dataset that the evaluation reads: at scale, loading only these (not the whole
#: contract) keeps the evaluation's memory down. Attribution reads a subset of the same.
EVALUATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "employees": ROSTER_COLUMNS, **{name: tuple(schema) for name, schema in INPUT_SCHEMAS.items()},
}


@dataclass
class PeriodResult:
    period: Period
    plan: Plan
    matrix: pl.DataFrame
    scores: pl.DataFrame
    credits: pl.DataFrame
    department_values: pl.DataFrame
    department_matrix: pl.DataFrame
    funnel: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FUNNEL_SCHEMA))  # revenue_funnel rows
    coverage: Coverage | None = None  # what the period's data covers; partial or not


def data_span(frames: dict[str, pl.DataFrame], tz: str) -> tuple[dt.date, dt.date] | None:
    """The first and last local day (in ``tz``) of the data: each dataset's ``data_time`` (the contract's,
    :data:`transforms.coverage.DATA_COLUMNS`); None when there is none."""
    days: list[dt.date] = []
    for name, column in _EVENT_COLUMNS.items():
        frame = frames[name]
        if frame.height:
            # the local date only grows with the instant: convert the two extremes, not every row
            ends = frame.select(pl.col(column).min().alias("lo"), pl.col(column).max().alias("hi"))
            days += [d for d in ends.select(local_date(ends, "lo", tz), local_date(ends, "hi", tz)).row(0)
                     if d is not None]
    return (min(days), max(days)) if days else None


def find_periods(frames: dict[str, pl.DataFrame], tz: str, kind: str) -> list[Period]:
    """Every period from the first to the last event in the data (in the plan's timezone)."""
    span = data_span(frames, tz)
    return periods_spanning(span[0], span[1], kind) if span else []


def _owner_departments(employees: pl.DataFrame, roster: pl.DataFrame) -> pl.DataFrame:
    """Each employee's department: as of the period's roster, else their latest roster row."""
    latest = (employees.sort("employee_id", "effective_from")
              .group_by("employee_id", maintain_order=True).last().select("employee_id", "department"))
    return pl.concat([roster.select("employee_id", "department"),
                      latest.join(roster, on="employee_id", how="anti")])


def summarize_departments(matrix: pl.DataFrame) -> pl.DataFrame:
    """department_matrix: mean achievement per (period, department, metric) over employees where it counted."""
    return (
        matrix.filter(pl.col("included"))
        .group_by("period", "department", "metric")
        .agg(pl.col("achievement").cast(pl.Float64).mean().alias("mean_achievement"),
             pl.len().cast(pl.Int64).alias("employees"))
        .sort("period", "department", "metric")
    )


def evaluate_period(plan: Plan, period: Period, frames: dict[str, pl.DataFrame],
                    as_of: dt.datetime | None, *, funnel: bool = True, today: dt.date | None = None) -> PeriodResult:
    """Roster, attribution, actuals, targets, scores, department summary and (unless ``funnel`` is false)
    the revenue funnel of one period, and what its data covers (``coverage``; the scores carry ``partial``
    and the first and last day with data). ``today`` (the plan's timezone) makes a period that has not
    ended partial; None leaves that to the data alone."""
    tz = plan.timezone
    roster = resolve_roster(frames["employees"], period)
    opps = frames["opportunities"]
    closed = opps.filter(pl.col("stage").is_in(CLOSED_STAGES) & in_period(opps, "closed_at", tz, period))
    touches = build_touches(closed, frames["activities"], plan.attribution.lookback_days)
    credits, dept_values = attribute_credits(
        closed, touches, model=plan.attribution.model,
        position_first=plan.attribution.position_based.first, position_last=plan.attribution.position_based.last,
        half_life_days=plan.attribution.time_decay.half_life_days,
        owner_departments=_owner_departments(frames["employees"], roster),
    )
    actuals = compute_actuals(plan, period, roster, opps, frames["activities"], frames["measurements"],
                              frames["feedback"], credits, as_of)
    targets = resolve_targets(plan, period, roster, frames["targets"])
    matrix, scores = score_employees(plan, period, roster, actuals, targets)
    coverage = period_coverage(frames, period, tz, today)
    scores = with_coverage(scores, coverage)
    credits = credits.with_columns(pl.lit(period.label).alias("period"))
    dept_values = dept_values.with_columns(pl.lit(period.label).alias("period"))
    result = PeriodResult(period, plan, matrix, scores, credits, dept_values, summarize_departments(matrix),
                          coverage=coverage)
    if funnel:
        result.funnel = revenue_funnel(plan, period, opps, frames["activities"])
    return result



