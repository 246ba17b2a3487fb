"""Actuals and targets: one row per (employee, plan metric of their weight row).

An actual is kept exact as ``actual_num / actual_den`` (Decimal numerator, integer
denominator; a mean is Σ values / count), never as a float. A null ``actual_num``
means "no actual" (the metric is then removed from the employee's composite by scoring).

All aggregations over events (activities, measurements, feedback, opportunities) are
polars group-bys; only the small (employee × metric) skeleton is built in Python.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import polars as pl

from schemas.contracts import CLOSED_STAGES, FIRST_CONTACT, LEAD_HANDOFF
from schemas.derive import polars_schema
from schemas.marts import frame_schema
from schemas.plan import Metric, Plan
from transforms.periods import Period, in_period, select_period
from transforms.rounding import half_up

NUM_SCALE = 9
NUM = pl.Decimal(38, NUM_SCALE)
ACTUALS_SCHEMA = pl.Schema({
    "employee_id": pl.Utf8(),
    "metric": pl.Utf8(),
    "actual_num": NUM,
    "actual_den": pl.Int64(),
    "detail": pl.Utf8(),
})
TARGETS_SCHEMA = pl.Schema({
    "employee_id": pl.Utf8(),
    "metric": pl.Utf8(),
    "target": NUM,
    "target_source": pl.Utf8(),
})
_VALUE_COLS = ["actual_num", "actual_den", "detail"]

Frame = pl.DataFrame | pl.LazyFrame


# ---------------------------------------------------------------------------
# skeleton: which metrics each employee is measured on
# ---------------------------------------------------------------------------
def metric_pairs(plan: Plan, roster: pl.DataFrame) -> pl.DataFrame:
    """(employee_id, department, role, metric, weight_order) for every metric of each employee's weight row."""
    emps = roster.select(pl.col("employee_id", "department", "role").cast(pl.Utf8)).with_row_index("_e")
    rows = [(dept, role, metric, i)
            for dept, role in emps.select("department", "role").unique(maintain_order=True).iter_rows()
            for i, metric in enumerate(plan.weight_row(dept, role))]  # once per (department, role), not per employee
    rows_frame = pl.DataFrame(rows, schema={"department": pl.Utf8, "role": pl.Utf8, "metric": pl.Utf8,
                                            "weight_order": pl.Int64}, orient="row")
    return (emps.join(rows_frame, on=["department", "role"], how="inner", nulls_equal=True)
            .sort("_e", "weight_order").drop("_e"))


def _lazy(frame: Frame | None, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    if frame is None:
        return pl.LazyFrame(schema=schema)
    return frame.lazy()


def _contract(dataset: str, *columns: str) -> dict[str, pl.DataType]:
    """``columns`` of ``dataset`` with the contract's dtypes (schemas/contracts.py)."""
    schema = polars_schema(dataset)
    return {c: schema[c] for c in columns}


_ACTIVITIES = _contract("activities", "event_id", "occurred_at", "employee_id", "department", "activity_type",
                        "opportunity_id", "quantity")
_OPPORTUNITIES = _contract("opportunities", "opportunity_id", "created_at", "stage", "amount", "owner_employee_id",
                           "source", "closed_at")
_MEASUREMENTS = _contract("measurements", "measurement_id", "measured_at", "department", "metric", "value",
                          "employee_id")
_FEEDBACK = _contract("feedback", "survey_id", "responded_at", "score", "employee_id", "department")
_CREDITS = {c: t for c, t in frame_schema("attribution_credits").items() if c in ("employee_id", "credit")}
_TARGETS = _contract("targets", "period", "department", "metric", "target", "employee_id")
#: The columns of each dataset that actuals and targets read (an optional one that a frame lacks is
#: added as nulls, so a caller loading fewer columns than these would change results silently).
INPUT_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "opportunities": _OPPORTUNITIES, "activities": _ACTIVITIES, "measurements": _MEASUREMENTS,
    "feedback": _FEEDBACK, "targets": _TARGETS,
}


def _ensure(lf: pl.LazyFrame, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    """Add optional columns that a frame may lack (as nulls)."""
    have = set(lf.collect_schema().names())
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in have]
    return lf.with_columns(missing) if missing else lf


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


# ---------------------------------------------------------------------------
# one function per metric kind: emps (employee_id, department) -> emps + actual columns
# ---------------------------------------------------------------------------
def _finish(emps: pl.LazyFrame, values: pl.LazyFrame, on: str = "employee_id") -> pl.LazyFrame:
    return emps.join(values, on=on, how="left")


def _agg_exprs(agg: str, value: str, ts: str, tiebreak: str) -> list[pl.Expr]:
    v = pl.col(value).cast(NUM)
    n = pl.len().cast(pl.Int64).alias("_n")
    if agg == "mean":
        return [v.sum().alias("actual_num"), pl.len().cast(pl.Int64).alias("actual_den"), n]
    if agg == "sum":
        return [v.sum().alias("actual_num"), pl.lit(1, dtype=pl.Int64).alias("actual_den"), n]
    if agg == "last":
        return [v.sort_by([ts, tiebreak]).last().alias("actual_num"), pl.lit(1, dtype=pl.Int64).alias("actual_den"), n]
    if agg == "min":
        return [v.min().alias("actual_num"), pl.lit(1, dtype=pl.Int64).alias("actual_den"), n]
    if agg == "max":
        return [v.max().alias("actual_num"), pl.lit(1, dtype=pl.Int64).alias("actual_den"), n]
    raise ValueError(f"unknown aggregation {agg!r}")


def _own_or_team(emps: pl.LazyFrame, own: pl.LazyFrame, team: pl.LazyFrame,
                 own_detail: pl.Expr, team_detail: pl.Expr, none_detail: str) -> pl.LazyFrame:
    """Prefer the employee's own figure; else the department's team figure; else no actual."""
    j = emps.join(own, on="employee_id", how="left").join(
        team.rename({c: f"{c}_team" for c in ("actual_num", "actual_den", "_n")}), on="department", how="left"
    )
    has_own = pl.col("_n").is_not_null()
    has_team = pl.col("_n_team").is_not_null()
    return j.select(
        "employee_id",
        pl.when(has_own).then(pl.col("actual_num")).otherwise(pl.col("actual_num_team")).alias("actual_num"),
        pl.when(has_own).then(pl.col("actual_den")).otherwise(pl.col("actual_den_team")).alias("actual_den"),
        pl.when(has_own).then(own_detail).when(has_team).then(team_detail).otherwise(pl.lit(none_detail))
        .alias("detail"),
    )


def _measurement(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    m = ctx.measurements
    rows = m.filter(pl.col("metric") == spec.metric).filter(in_period(m, "measured_at", ctx.tz, ctx.period))
    aggs = _agg_exprs(spec.agg, "value", "measured_at", "measurement_id")
    own = rows.filter(pl.col("employee_id").is_not_null()).group_by("employee_id").agg(aggs)
    team = rows.filter(pl.col("employee_id").is_null()).group_by("department").agg(aggs)
    what = f"{spec.agg} of"
    return _own_or_team(
        emps, own, team,
        pl.format(f"{what} {{}} own {spec.metric} readings", pl.col("_n")),
        pl.format(f"{what} {{}} team {spec.metric} readings ({{}})", pl.col("_n_team"), pl.col("department")),
        f"no {spec.metric} readings",
    )


def _customer_satisfaction(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    f = ctx.feedback
    rows = f.filter(in_period(f, "responded_at", ctx.tz, ctx.period))
    aggs = _agg_exprs("mean", "score", "responded_at", "survey_id")
    own = rows.filter(pl.col("employee_id").is_not_null()).group_by("employee_id").agg(aggs)
    team = (
        rows.filter(pl.col("employee_id").is_null() & pl.col("department").is_not_null())
        .group_by("department").agg(aggs)
    )
    return _own_or_team(
        emps, own, team,
        pl.format("mean score of {} responses naming the employee", pl.col("_n")),
        pl.format("mean score of {} responses naming {}", pl.col("_n_team"), pl.col("department")),
        "no feedback",
    )


def _activity_count(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    counts = (
        ctx.period_activities.filter(pl.col("activity_type").is_in(list(spec.activity_types)))
        .join(emps.select("employee_id"), on="employee_id", how="semi")
        .group_by("employee_id")
        .agg(pl.col("quantity").cast(NUM).fill_null(Decimal(1)).sum().alias("actual_num"), pl.len().alias("_n"))
    )
    kinds = "+".join(spec.activity_types)
    return _finish(emps, counts).select(
        "employee_id",
        pl.col("actual_num").fill_null(Decimal(0)).cast(NUM),
        pl.lit(1, dtype=pl.Int64).alias("actual_den"),
        pl.format(f"{{}} {kinds} event(s)", pl.col("_n").fill_null(0)).alias("detail"),
    )


def _prospecting_index(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    o, a = ctx.opportunities, ctx.activities
    leads = o.filter((pl.col("source") == "marketing") & in_period(o, "created_at", ctx.tz, ctx.period)).select(
        "opportunity_id"
    )
    counts = (
        a.filter((pl.col("activity_type") == LEAD_HANDOFF) & pl.col("opportunity_id").is_not_null())
        .select("employee_id", "opportunity_id")
        .join(leads, on="opportunity_id", how="semi")
        .unique()
        .group_by("employee_id")
        .agg(pl.len().cast(pl.Int64).alias("_n"))
    )
    return _finish(emps, counts).select(
        "employee_id",
        pl.col("_n").fill_null(0).cast(NUM).alias("actual_num"),
        pl.lit(1, dtype=pl.Int64).alias("actual_den"),
        pl.format("{} marketing leads created in period and handed off", pl.col("_n").fill_null(0)).alias("detail"),
    )


def _closing_index(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    o = ctx.opportunities
    closed = (
        o.filter(pl.col("stage").is_in(CLOSED_STAGES) & pl.col("closed_at").is_not_null())
        .filter(in_period(o, "closed_at", ctx.tz, ctx.period))
        .group_by(pl.col("owner_employee_id").alias("employee_id"))
        .agg((pl.col("stage") == "won").sum().cast(pl.Int64).alias("_won"), pl.len().cast(pl.Int64).alias("_n"))
    )
    return _finish(emps, closed).select(
        "employee_id",
        pl.col("_won").cast(NUM).alias("actual_num"),
        pl.col("_n").alias("actual_den"),
        pl.when(pl.col("_n").is_null()).then(pl.lit("no opportunities closed"))
        .otherwise(pl.format("{} won / {} closed", pl.col("_won"), pl.col("_n"))).alias("detail"),
    )


def _lead_sla_compliance(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    a, o = ctx.activities, ctx.opportunities
    assert spec.sla_hours is not None
    sla_exact = Fraction(spec.sla_hours) * 3600 * 1_000_000
    sla = dt.timedelta(microseconds=half_up(sla_exact.numerator, sla_exact.denominator))
    ts = pl.Datetime("us", "UTC")
    handoffs = (
        ctx.period_activities.filter(
            (pl.col("activity_type") == LEAD_HANDOFF) & pl.col("opportunity_id").is_not_null()
        )
        .select("event_id", "employee_id", "opportunity_id", pl.col("occurred_at").cast(ts).alias("_t"))
    )
    if ctx.as_of is None:
        handoffs = handoffs.filter(pl.lit(False))
    else:  # Lead SLA: a handoff whose window has not ended by as_of is left out
        handoffs = handoffs.filter(pl.col("_t") + sla <= pl.lit(ctx.as_of, dtype=ts))
    contacts = (
        a.filter((pl.col("activity_type") == FIRST_CONTACT) & pl.col("opportunity_id").is_not_null())
        .select("opportunity_id", pl.col("occurred_at").cast(ts).alias("_fc"))
        .sort("_fc")
    )
    judged = (
        handoffs.sort("_t")
        .join_asof(contacts, left_on="_t", right_on="_fc", by="opportunity_id", strategy="forward",
                   check_sortedness=False)
        .with_columns((pl.col("_fc").is_not_null() & (pl.col("_fc") <= pl.col("_t") + sla)).alias("_ok"))
    )
    owners = o.select("opportunity_id", pl.col("owner_employee_id").alias("_owner"))
    answerable = pl.concat(
        [
            judged.select("event_id", "employee_id", "_ok"),
            judged.join(owners, on="opportunity_id", how="inner")
            .select("event_id", pl.col("_owner").alias("employee_id"), "_ok"),
        ]
    ).unique(subset=["event_id", "employee_id"])
    per_emp = answerable.group_by("employee_id").agg(
        pl.col("_ok").sum().cast(pl.Int64).alias("_ok"), pl.len().cast(pl.Int64).alias("_n")
    )
    hours = format(spec.sla_hours.normalize(), "f")
    return _finish(emps, per_emp).select(
        "employee_id",
        pl.col("_ok").cast(NUM).alias("actual_num"),
        pl.col("_n").alias("actual_den"),
        pl.when(pl.col("_n").is_null()).then(pl.lit("no lead handoffs with an ended SLA window"))
        .otherwise(pl.format(f"{{}} of {{}} handoffs first-contacted within {hours}h", pl.col("_ok"), pl.col("_n")))
        .alias("detail"),
    )


def _commercial_contribution(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    c = ctx.credits
    n_expr = (
        pl.col("opportunity_id").n_unique() if "opportunity_id" in c.collect_schema().names() else pl.len()
    ).cast(pl.Int64).alias("_n")
    sums = (
        c.filter(pl.col("employee_id").is_not_null())
        .group_by("employee_id")
        .agg(pl.col("credit").cast(NUM).fill_null(Decimal(0)).sum().alias("actual_num"), n_expr)
    )
    return _finish(emps, sums).select(
        "employee_id",
        pl.col("actual_num").fill_null(Decimal(0)).cast(NUM),
        pl.lit(1, dtype=pl.Int64).alias("actual_den"),
        pl.format("attribution credit from {} won opportunity(ies)", pl.col("_n").fill_null(0)).alias("detail"),
    )


def _company_revenue(spec: Metric, ctx: _Ctx, emps: pl.LazyFrame) -> pl.LazyFrame:
    o = ctx.opportunities
    total = (
        o.filter((pl.col("stage") == "won") & pl.col("closed_at").is_not_null())
        .filter(in_period(o, "closed_at", ctx.tz, ctx.period))
        .select(
            pl.col("amount").cast(NUM).sum().alias("actual_num"),  # sum of nothing is 0
            pl.len().cast(pl.Int64).alias("_n"),
        )
    )
    return emps.join(total, how="cross").select(
        "employee_id",
        pl.col("actual_num").fill_null(Decimal(0)).cast(NUM),
        pl.lit(1, dtype=pl.Int64).alias("actual_den"),
        pl.format("{} opportunity(ies) won company-wide", pl.col("_n")).alias("detail"),
    )


_KINDS = {
    "measurement": _measurement,
    "activity_count": _activity_count,
    "prospecting_index": _prospecting_index,
    "closing_index": _closing_index,
    "lead_sla_compliance": _lead_sla_compliance,
    "commercial_contribution": _commercial_contribution,
    "company_revenue": _company_revenue,
    "customer_satisfaction": _customer_satisfaction,
}


class _Ctx:
    def __init__(self, plan: Plan, period: Period, opportunities: Frame | None, activities: Frame | None,
                 measurements: Frame | None, feedback: Frame | None, credits: Frame | None,
                 as_of: dt.datetime | None) -> None:
        self.period = period
        self.tz = plan.timezone
        self.opportunities = _ensure(_lazy(opportunities, _OPPORTUNITIES), _OPPORTUNITIES)
        self.activities = _ensure(_lazy(activities, _ACTIVITIES), _ACTIVITIES)
        # the period's activities, selected once: the local-date test converts every timestamp to the
        # plan's timezone, too costly to repeat for each activity metric over millions of rows
        self.period_activities = select_period(self.activities, "occurred_at", self.tz, period).lazy()
        self.measurements = _ensure(_lazy(measurements, _MEASUREMENTS), _MEASUREMENTS)
        self.feedback = _ensure(_lazy(feedback, _FEEDBACK), _FEEDBACK)
        self.credits = _ensure(_lazy(credits, _CREDITS), _CREDITS)
        if as_of is None:
            latest = self.activities.select(pl.col("occurred_at").max()).collect().item()
            self.as_of = None if latest is None else _utc(latest)
        else:
            self.as_of = _utc(as_of)


def compute_actuals(
    plan: Plan,
    period: Period,
    roster: pl.DataFrame,
    opportunities: Frame | None,
    activities: Frame | None,
    measurements: Frame | None,
    feedback: Frame | None,
    credits: Frame | None,
    as_of: dt.datetime | None,
) -> pl.DataFrame:
    """One row per (employee_id, metric) of each roster employee's weight row.

    Columns: employee_id Utf8, metric Utf8, actual_num Decimal(38,9) (null = no actual),
    actual_den Int64 (null when actual_num is null), detail Utf8. The actual is
    actual_num / actual_den. ``credits``: (employee_id, credit[, opportunity_id]) from opportunities
    won in the period. ``as_of``: latest activity timestamp loaded (None: the latest in ``activities``).
    Sorted by employee_id then weight-row order.
    """
    pairs = metric_pairs(plan, roster)
    if pairs.is_empty():
        return pl.DataFrame(schema=ACTUALS_SCHEMA)
    ctx = _Ctx(plan, period, opportunities, activities, measurements, feedback, credits, as_of)
    parts: list[pl.LazyFrame] = []
    for metric in pairs.get_column("metric").unique(maintain_order=True).to_list():
        spec = plan.metrics[metric]
        emps = pairs.filter(pl.col("metric") == metric).select("employee_id", "department").lazy()
        part = _KINDS[spec.kind](spec, ctx, emps)
        parts.append(
            part.select(
                "employee_id",
                pl.lit(metric).alias("metric"),
                pl.col("actual_num").cast(NUM),
                # an actual is either complete or absent
                pl.when(pl.col("actual_num").is_null()).then(None).otherwise(pl.col("actual_den"))
                .cast(pl.Int64).alias("actual_den"),
                pl.col("detail").cast(pl.Utf8),
            )
        )
    values = pl.concat(pl.collect_all(parts))
    out = (
        pairs.select("employee_id", "metric", "weight_order")
        .join(values, on=["employee_id", "metric"], how="left")
        .sort("employee_id", "weight_order")
        .select(list(ACTUALS_SCHEMA))
    )
    return out.cast(ACTUALS_SCHEMA)


def resolve_targets(plan: Plan, period: Period, roster: pl.DataFrame, targets: Frame | None) -> pl.DataFrame:
    """Target of each (employee, metric of their weight row).

    A targets row for (period, employee) beats a (period, department, no employee) row, which beats
    the plan metric's ``target``; none gives a null target. Columns: employee_id, metric,
    target Decimal(38,9) (null = no target), target_source ('employee' | 'department' | 'plan' | null).
    An employee row filed under another department still applies (the one filed under the
    employee's department wins if there are several).
    """
    pairs = metric_pairs(plan, roster)
    if pairs.is_empty():
        return pl.DataFrame(schema=TARGETS_SCHEMA)
    t = _ensure(_lazy(targets, _TARGETS), _TARGETS).filter(pl.col("period") == period.label)
    emp_t = (
        pairs.lazy()
        .select("employee_id", "department", "metric")
        .join(
            t.filter(pl.col("employee_id").is_not_null())
            .select("employee_id", "metric", pl.col("department").alias("_tdept"), pl.col("target").cast(NUM)),
            on=["employee_id", "metric"],
            how="inner",
        )
        .sort(["employee_id", "metric", (pl.col("_tdept") != pl.col("department")), "_tdept"])
        .unique(subset=["employee_id", "metric"], keep="first", maintain_order=True)
        .select("employee_id", "metric", pl.col("target").alias("_emp"))
    )
    dept_t = (
        t.filter(pl.col("employee_id").is_null())
        .select("department", "metric", pl.col("target").cast(NUM))
        .sort("department", "metric", "target")
        .unique(subset=["department", "metric"], keep="first", maintain_order=True)
        .select("department", "metric", pl.col("target").alias("_dept"))
    )
    for m, spec in plan.metrics.items():
        exponent = spec.target.as_tuple().exponent if spec.target is not None else 0
        if isinstance(exponent, int) and exponent < -NUM_SCALE:
            raise ValueError(f"metric {m!r}: target {spec.target} has more than {NUM_SCALE} decimal places")
    plan_t = pl.LazyFrame(
        [(m, spec.target) for m, spec in plan.metrics.items()],
        schema={"metric": pl.Utf8, "_plan": NUM},
        orient="row",
    )
    out = (
        pairs.lazy()
        .join(emp_t, on=["employee_id", "metric"], how="left")
        .join(dept_t, on=["department", "metric"], how="left")
        .join(plan_t, on="metric", how="left")
        .sort("employee_id", "weight_order")
        .select(
            "employee_id",
            "metric",
            pl.coalesce("_emp", "_dept", "_plan").alias("target"),
            pl.when(pl.col("_emp").is_not_null()).then(pl.lit("employee"))
            .when(pl.col("_dept").is_not_null()).then(pl.lit("department"))
            .when(pl.col("_plan").is_not_null()).then(pl.lit("plan"))
            .otherwise(pl.lit(None, dtype=pl.Utf8))
            .alias("target_source"),
        )
        .collect()
    )
    return out.cast(TARGETS_SCHEMA)
