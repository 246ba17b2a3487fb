"""Data-quality findings of the evaluation: references between datasets that do not resolve, and
activity types that pay nothing.

Files arrive in any order, so orphans are kept at ingest and reported here. An activity type is
kept at ingest whatever it is (plans may count types of their own), so one that neither the engine
(the contract's ``ENGINE_ACTIVITY_TYPES``) nor the plan in force for its period counts is reported
here too (``unknown_activity_type``: the type and its rows, per period): ``Ticket_Resolved`` instead
of ``ticket_resolved`` would otherwise count 0 in an activity_count metric without a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from schemas.contracts import ENGINE_ACTIVITY_TYPES
from schemas.marts import frame_schema
from schemas.plan import Plan, PlanSet
from transforms.periods import assign_period, parse_period

UNKNOWN_ACTIVITY_TYPE = "unknown_activity_type"

#: data_quality's declared columns (schemas/marts.py) without the run stamp.
SCHEMA = frame_schema("data_quality")


def _orphans(frame: pl.DataFrame, column: str, known: pl.Series, check: str, dataset: str) -> pl.DataFrame:
    values = frame.get_column(column).drop_nulls()
    missing = values.filter(~values.is_in(known.implode()))
    examples = ", ".join(missing.unique().sort().head(5).to_list())
    return pl.DataFrame([{"period": None, "check": check, "dataset": dataset, "rows": missing.len(),
                          "examples": examples}], schema=SCHEMA)


def find_orphans(frames: dict[str, pl.DataFrame], metrics: list[str]) -> pl.DataFrame:
    """One row per referential check with the number of rows that fail it (0 rows = passed)."""
    employees = frames["employees"]["employee_id"].unique()
    opportunities = frames["opportunities"]["opportunity_id"].unique()
    checks = [
        _orphans(frames["activities"], "employee_id", employees, "unknown_employee", "activities"),
        _orphans(frames["activities"], "opportunity_id", opportunities, "unknown_opportunity", "activities"),
        _orphans(frames["opportunities"], "owner_employee_id", employees, "unknown_owner", "opportunities"),
        _orphans(frames["measurements"], "employee_id", employees, "unknown_employee", "measurements"),
        _orphans(frames["feedback"], "employee_id", employees, "unknown_employee", "feedback"),
        _orphans(frames["targets"], "employee_id", employees, "unknown_employee", "targets"),
        _orphans(frames["targets"], "metric", pl.Series(metrics, dtype=pl.Utf8), "unknown_plan_metric", "targets"),
        _orphans(frames["employees"], "manager_id", employees, "unknown_manager", "employees"),
    ]
    return pl.concat(checks)


def plan_activity_types(plan: Plan) -> set[str]:
    """The activity types the plan's activity_count metrics count."""
    return {t for m in plan.metrics.values() if m.kind == "activity_count" for t in m.activity_types}


def unknown_activity_types(activities: pl.DataFrame, plans: PlanSet) -> pl.DataFrame:
    """``unknown_activity_type`` rows (data_quality columns): per period (of the plans' kind, in their
    timezone) and activity type that neither the engine nor that period's plan in force counts, the
    number of rows; ``examples`` holds the type. A period with no plan in force is checked against the
    engine's types only."""
    base = plans.base
    counts = (
        activities.select("occurred_at", "activity_type")
        .filter(~pl.col("activity_type").is_in(ENGINE_ACTIVITY_TYPES))
        .pipe(assign_period, "occurred_at", base.timezone, base.period)
        .group_by("period", "activity_type").agg(pl.len().alias("rows"))
        .sort("period", "activity_type")
    )
    counted: dict[str, set[str]] = {}
    rows = []
    for period, activity_type, n in counts.iter_rows():
        if period not in counted:
            plan = plans.for_period_start(parse_period(period).start)
            counted[period] = plan_activity_types(plan) if plan is not None else set()
        if activity_type not in counted[period]:
            rows.append((period, UNKNOWN_ACTIVITY_TYPE, "activities", n, activity_type))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def find_problems(frames: dict[str, pl.DataFrame], plans: PlanSet) -> pl.DataFrame:
    """Every data_quality finding of an evaluation: the referential checks and the unknown activity types."""
    metrics = sorted({m for p in plans.plans for m in p.metrics})
    return pl.concat([find_orphans(frames, metrics), unknown_activity_types(frames["activities"], plans)])


def _folded(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def closest_known_type(activity_type: str, known: Iterable[str] = ENGINE_ACTIVITY_TYPES) -> str | None:
    """The known type ``activity_type`` was probably meant to be (same letters up to case, spaces and
    punctuation: ``Ticket_Resolved``, ``ticket resolved`` -> ``ticket_resolved``), or None."""
    folded = _folded(activity_type)
    return next((k for k in sorted(known) if k != activity_type and _folded(k) == folded), None)


@dataclass(frozen=True)
class UnknownType:
    """An activity type that pays nothing: its rows in all, per period, and the known type it resembles."""

    activity_type: str
    rows: int
    periods: dict[str, int]
    did_you_mean: str | None

    def message(self) -> str:
        where = ", ".join(f"{p}: {n:,}" for p, n in self.periods.items())
        hint = f"; did you mean {self.did_you_mean!r}?" if self.did_you_mean else ""
        return (f"activity type {self.activity_type!r} pays nothing: {self.rows:,} row(s) ({where}) that neither "
                f"the engine nor the plan counts{hint}")


def unknown_types(quality: pl.DataFrame, plans: Iterable[Plan] = ()) -> list[UnknownType]:
    """The ``unknown_activity_type`` findings of a data_quality frame, one per type (for people to read)."""
    known = set(ENGINE_ACTIVITY_TYPES).union(*(plan_activity_types(p) for p in plans))
    found: dict[str, dict[str, int]] = {}
    for period, activity_type, n in (quality.filter(pl.col("check") == UNKNOWN_ACTIVITY_TYPE)
                                     .sort("period").select("period", "examples", "rows").iter_rows()):
        found.setdefault(activity_type, {})[period] = n
    return [UnknownType(t, sum(per.values()), per, closest_known_type(t, known)) for t, per in sorted(found.items())]


def unused_plan_activity_types(activities: pl.DataFrame, plans: Iterable[Plan]) -> list[str]:
    """Warnings, one per (plan, metric, type), for each type a plan's activity_count metric counts that no
    loaded activity carries (a typo in the plan would otherwise count 0 for everyone)."""
    carried = set(activities.get_column("activity_type").unique().to_list())
    warnings = []
    seen: set[tuple[str, str, str]] = set()
    for plan in plans:
        for name, metric in plan.metrics.items():
            if metric.kind != "activity_count":
                continue
            for activity_type in metric.activity_types:
                key = (plan.version, name, activity_type)
                if activity_type in carried or key in seen:
                    continue
                seen.add(key)
                hint = closest_known_type(activity_type, carried | set(ENGINE_ACTIVITY_TYPES))
                warnings.append(f"plan {plan.version}, metric {name}: no loaded activity has type "
                                f"{activity_type!r}" + (f"; did you mean {hint!r}?" if hint else ""))
    return warnings
