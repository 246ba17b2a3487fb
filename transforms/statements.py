"""The statement model: one employee's period in plain figures, exact (shared by `orbit statements` and
`orbit explain`).

Frames in (what :mod:`warehouse.statements` reads), :class:`Statement` objects out. Achievements,
weights, composites and multipliers stay :class:`~fractions.Fraction`; money stays Decimal as stored
(rounded once, by the evaluation). Nothing here formats: the presentation (:mod:`orbit.statements`)
turns figures into words for a language.

Privacy: a statement holds one person's name and money. Other people appear only as aggregates of
their department (its size, its median composite — shown only for 3 or more people — and its
credited share of the period's won revenue).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import polars as pl

from schemas.plan import Plan
from transforms.periods import Period
from transforms.roster import resolve_roster
from transforms.scoring import compute_bonus, payout_multiplier, to_fraction

#: A department's median composite is shown only when at least this many people make it.
MIN_GROUP = 3
#: "What would move your result most": at most this many metrics.
LEVERS = 3
#: metric kinds whose actual is money (in the plan's currency) and whose actual is a share (0..1)
MONEY_KINDS = frozenset({"commercial_contribution", "company_revenue"})
SHARE_KINDS = frozenset({"closing_index", "lead_sla_compliance"})


class StatementMismatch(ValueError):
    """Stored figures that do not add up (the statement refuses to show what it cannot explain)."""


@dataclass(frozen=True)
class MetricLine:
    metric: str
    kind: str
    direction: str
    actual: Fraction | None
    target: Fraction | None
    target_source: str | None
    achievement: Fraction | None
    cap: Fraction
    capped: bool                 # the achievement was clipped at the cap
    weight: Fraction             # the plan's weight
    effective_weight: Fraction   # after renormalising over the metrics kept (0 when left out)
    weighted_score: Fraction | None
    included: bool
    reason: str | None           # why the metric is missing data (the evaluation's reason code)
    detail: str | None           # how the actual was made (the evaluation's words)
    when_missing: str | None = None  # what the plan's missing-data policy did: renormalise | zero | hold


@dataclass(frozen=True)
class OpportunityLine:
    opportunity_id: str
    customer_id: str | None
    amount: Decimal | None
    closed_on: dt.date | None
    credit: Decimal
    share: Fraction | None
    department: str              # the department the employee touched it for
    touch_types: tuple[str, ...]  # how they touched it (activity types); empty: credited as the owner, untouched


@dataclass(frozen=True)
class TrendPoint:
    period: str
    composite: Fraction
    multiplier: Fraction
    bonus_amount: Decimal | None
    state: str                   # open | closed


@dataclass(frozen=True)
class Lever:
    metric: str
    achievement: Fraction
    composite_gain: Fraction     # effective weight × (1 − achievement): reaching target adds this
    composite_after: Fraction
    multiplier_after: Fraction


@dataclass(frozen=True)
class Bonus:
    bonus_target: Decimal | None
    period_share: Fraction
    fte_days: Fraction | None
    days_in_period: int
    days_employed: int | None    # None when the roster changed since the figures were made
    fte: Fraction | None         # the fte, when it was the same on every employed day
    multiplier: Fraction
    amount: Decimal | None
    currency: str | None
    held: bool = False           # the bonus was held (set to 0) although the arithmetic gives more


@dataclass(frozen=True)
class Company:
    won_revenue: Decimal         # won in the period (the sum of its credited amounts)
    target: Fraction | None      # the company-revenue target of the plan (None: the plan has none)
    achievement: Fraction | None


@dataclass(frozen=True)
class DepartmentAggregate:
    department: str
    employees: int
    median_composite: Fraction | None  # None below MIN_GROUP people
    credit: Decimal              # won revenue credited to the department
    share_of_result: Fraction | None   # credit / company won revenue


@dataclass(frozen=True)
class PeriodInfo:
    label: str
    start: dt.date
    end: dt.date
    days: int
    state: str                   # open | closed
    pending_restatement: bool
    partial: bool | None         # None when the warehouse does not record it
    first_data_day: dt.date | None
    last_data_day: dt.date | None


@dataclass(frozen=True)
class Statement:
    employee_id: str
    full_name: str | None
    department: str
    role: str | None
    period: PeriodInfo
    draft: bool
    plan_name: str
    plan_version: str
    run_id: str
    currency: str | None
    metrics: tuple[MetricLine, ...]
    composite: Fraction
    multiplier: Fraction
    payout_curve: tuple[tuple[Fraction, Fraction], ...]
    incomplete: bool
    incomplete_reason: str | None
    missing_policy: str | None   # what missing data did, strongest first (renormalise, zero, hold), as recorded
    bonus: Bonus
    company: Company
    department_aggregate: DepartmentAggregate
    opportunities: tuple[OpportunityLine, ...]
    contribution_total: Decimal
    trend: tuple[TrendPoint, ...]
    levers: tuple[Lever, ...]
    status_words: tuple[str, ...] = field(default=())  # open | closed | pending_restatement | partial | draft

    @property
    def left_out(self) -> tuple[MetricLine, ...]:
        return tuple(m for m in self.metrics if not m.included)


# --------------------------------------------------------------------------- helpers
def _frac(value) -> Fraction | None:
    return None if value is None else to_fraction(value)


def is_capped(actual: Fraction | None, target: Fraction | None, direction: str, cap: Fraction,
              achievement: Fraction | None) -> bool:
    """Whether the achievement was clipped at the cap (the raw ratio went beyond it)."""
    if achievement is None or actual is None or target is None or achievement != cap:
        return False
    if direction == "lower":
        return actual == 0 or target / actual > cap
    return target > 0 and actual / target > cap


def median(values: Sequence[Fraction]) -> Fraction:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def levers(metrics: Iterable[MetricLine], composite: Fraction, curve, limit: int = LEVERS) -> tuple[Lever, ...]:
    """The metrics below target whose reaching it (achievement 1) would add most to the composite; each with
    the composite and multiplier it would give, the other metrics unchanged. Ties: by metric name."""
    out = []
    for m in metrics:
        if m.included and m.achievement is not None and m.achievement < 1 and m.effective_weight > 0:
            gain = m.effective_weight * (1 - m.achievement)
            out.append(Lever(m.metric, m.achievement, gain, composite + gain,
                             payout_multiplier(curve, composite + gain)))
    out.sort(key=lambda lv: (-lv.composite_gain, lv.metric))
    return tuple(out[:limit])


def _days_and_fte(roster: pl.DataFrame, period: Period) -> dict[str, tuple[int, Fraction]]:
    """employee -> (days employed, fte-days) from the roster rows as they are now (the caller compares the
    fte-days with the stored ones: the roster may have changed after the figures were made)."""
    if roster.height == 0:
        return {}
    resolved = resolve_roster(roster, period)
    out = {}
    for r in resolved.select("employee_id", "days_employed", "fte_days").iter_rows():
        out[r[0]] = (r[1], to_fraction(r[2]))
    return out


def _fte_segments(roster: pl.DataFrame, period: Period) -> dict[str, set[Fraction]]:
    """employee -> the fte values of the roster rows that overlap the period."""
    out: dict[str, set[Fraction]] = defaultdict(set)
    if roster.height == 0:
        return out
    rows = roster.sort("employee_id", "effective_from")
    ids, froms, tos, ftes = (rows[c].to_list() for c in ("employee_id", "effective_from", "effective_to", "fte"))
    for i, eid in enumerate(ids):
        nxt = froms[i + 1] - dt.timedelta(days=1) if i + 1 < len(ids) and ids[i + 1] == eid else None
        end = tos[i] or nxt or period.end
        if froms[i] <= period.end and end >= period.start:
            out[eid].add(to_fraction(ftes[i]))
    return out


# --------------------------------------------------------------------------- the model
def build_statements(
    *,
    plan: Plan,
    period: Period,
    status: Mapping,
    people: pl.DataFrame,
    matrix: pl.DataFrame,
    credits: pl.DataFrame,
    department_scores: pl.DataFrame,
    department_credits: pl.DataFrame,
    trend: pl.DataFrame,
    roster: pl.DataFrame,
    period_states: Mapping[str, str],
    draft: bool,
) -> list[Statement]:
    """One :class:`Statement` per row of ``people`` (sorted by employee_id), from the frames of
    :func:`warehouse.statements.read_statement_inputs`. Raises :class:`StatementMismatch` if a stored figure
    does not follow from the others (the composite from the weighted scores, the bonus from its arithmetic)."""
    tz = plan.tz
    curve = tuple((to_fraction(x), to_fraction(y)) for x, y in plan.payout_curve)
    info = PeriodInfo(
        label=period.label, start=period.start, end=period.end, days=period.days,
        state=status.get("state") or "open", pending_restatement=bool(status.get("pending_restatement")),
        partial=status.get("partial"), first_data_day=status.get("first_data_day"),
        last_data_day=status.get("last_data_day"),
    )
    words = [info.state]
    if info.pending_restatement:
        words.append("pending_restatement")
    if info.partial:
        words.append("partial")

    # company and departments: aggregates only
    won = sum(department_credits["credit"].to_list(), Decimal(0)) if department_credits.height else Decimal(0)
    revenue_metrics = [n for n, m in plan.metrics.items() if m.kind == "company_revenue"]
    company_target = _frac(plan.metrics[revenue_metrics[0]].target) if revenue_metrics else None
    if revenue_metrics and matrix.height:
        used = matrix.filter((pl.col("metric") == revenue_metrics[0]) & pl.col("target").is_not_null())
        if used.height:  # the target the evaluation used (a targets row may replace the plan's)
            company_target = to_fraction(used["target"].mode().sort()[0])
    company = Company(won, company_target,
                      None if not company_target else Fraction(to_fraction(won)) / company_target)
    by_dept: dict[str, list[Fraction]] = defaultdict(list)
    for dept, c in department_scores.select("department", "composite_exact").iter_rows():
        by_dept[dept].append(Fraction(c))
    dept_credit = {d: c for d, c in department_credits.select("department", "credit").iter_rows()}
    dept_median = {d: median(v) for d, v in by_dept.items() if len(v) >= MIN_GROUP}  # once per department

    matrix_by: dict[str, list[dict]] = defaultdict(list)
    for r in matrix.iter_rows(named=True):
        matrix_by[r["employee_id"]].append(r)
    credits_by: dict[str, list[dict]] = defaultdict(list)
    for r in credits.iter_rows(named=True):
        credits_by[r["employee_id"]].append(r)
    trend_by: dict[str, list[dict]] = defaultdict(list)
    for r in trend.iter_rows(named=True):
        trend_by[r["employee_id"]].append(r)
    days_fte = _days_and_fte(roster, period)
    segments = _fte_segments(roster, period)
    order = {m: i for i, m in enumerate(plan.metrics)}

    out = []
    for p in people.iter_rows(named=True):
        eid = p["employee_id"]
        composite, multiplier = Fraction(p["composite_exact"]), Fraction(p["multiplier_exact"])
        weight_order = {m: i for i, m in enumerate(plan.weight_row(p["department"], p["role"]))}
        lines = []
        for r in sorted(matrix_by.get(eid, ()), key=lambda r: (weight_order.get(r["metric"], len(order)),
                                                                order.get(r["metric"], 0), r["metric"])):
            actual, target = _frac(r["actual_exact"]), _frac(r["target"])
            ach, cap = _frac(r["achievement_exact"]), to_fraction(r["cap"])
            kind = plan.metrics[r["metric"]].kind if r["metric"] in plan.metrics else "measurement"
            lines.append(MetricLine(
                metric=r["metric"], kind=kind, direction=r["direction"], actual=actual, target=target,
                target_source=r["target_source"], achievement=ach, cap=cap,
                capped=is_capped(actual, target, r["direction"], cap, ach), weight=to_fraction(r["weight"]),
                effective_weight=_frac(r["effective_weight_exact"]) or Fraction(0),
                weighted_score=_frac(r["weighted_score_exact"]), included=bool(r["included"]), reason=r["reason"],
                detail=r["detail"], when_missing=r.get("when_missing"),
            ))
        scored = sum((m.weighted_score for m in lines if m.included and m.weighted_score is not None), Fraction(0))
        if lines and any(m.included for m in lines) and scored != composite:
            raise StatementMismatch(f"{eid} {period.label}: the weighted scores add up to {scored}, the stored "
                                    f"composite is {composite}")

        fte_days = _frac(p["fte_days"])
        days, fte = None, None
        got = days_fte.get(eid)
        if got is not None and fte_days is not None and got[1] == fte_days:
            days = got[0]
            ftes = segments.get(eid, set())
            if len(ftes) == 1 and days:
                fte = next(iter(ftes))
                if fte * days != fte_days:  # a constant fte must give the fte-days
                    fte = None
        share = Fraction(p["period_share"]) if p["period_share"] else period.share
        # a held bonus (the `hold` missing-data policy) is 0 by design: the stored multiplier is 0
        held = (any(m.when_missing == "hold" for m in lines) or "hold" in (p.get("missing_policy") or "")
                or (p["incomplete_reason"] or "").startswith("held"))
        if p["bonus_amount"] is not None and p["bonus_target"] is not None and fte_days is not None:
            expected = compute_bonus(p["bonus_target"], share, fte_days, int(p["days_in_period"] or period.days),
                                     multiplier)
            if expected != p["bonus_amount"]:
                raise StatementMismatch(f"{eid} {period.label}: the bonus arithmetic gives {expected}, the stored "
                                        f"bonus is {p['bonus_amount']}")
        bonus = Bonus(p["bonus_target"], share, fte_days, int(p["days_in_period"] or period.days), days, fte,
                      multiplier, p["bonus_amount"], p["currency"], held)

        opps = []
        for c in credits_by.get(eid, ()):
            closed = c["closed_at"]
            opps.append(OpportunityLine(
                opportunity_id=c["opportunity_id"], customer_id=c["customer_id"], amount=c["amount"],
                closed_on=closed.astimezone(tz).date() if closed is not None else None, credit=c["credit"],
                share=_frac(c["share"]), department=c["department"], touch_types=tuple(c["touch_types"] or ()),
            ))
        contribution = sum((o.credit for o in opps), Decimal(0))

        comps = by_dept.get(p["department"], [])
        credit = dept_credit.get(p["department"], Decimal(0))
        aggregate = DepartmentAggregate(
            p["department"], len(comps), dept_median.get(p["department"]), credit,
            Fraction(to_fraction(credit)) / to_fraction(won) if won else None)

        points = tuple(TrendPoint(t["period"], Fraction(t["composite_exact"]), Fraction(t["multiplier_exact"]),
                                  t["bonus_amount"], period_states.get(t["period"], "open"))
                       for t in sorted(trend_by.get(eid, ()), key=lambda t: t["period"]))
        out.append(Statement(
            employee_id=eid, full_name=p["full_name"], department=p["department"], role=p["role"], period=info,
            draft=draft, plan_name=plan.name, plan_version=p["plan_version"], run_id=p["run_id"],
            currency=p["currency"], metrics=tuple(lines), composite=composite, multiplier=multiplier,
            payout_curve=curve, incomplete=bool(p["incomplete"]), incomplete_reason=p["incomplete_reason"],
            missing_policy=p.get("missing_policy"),
            bonus=bonus, company=company, department_aggregate=aggregate, opportunities=tuple(opps),
            contribution_total=contribution, trend=points, levers=levers(lines, composite, curve),
            status_words=tuple(words + (["draft"] if draft else [])),
        ))
    return out


def trend_periods(period: Period, count: int = 4) -> list[str]:
    """The labels of ``period`` and the ``count`` − 1 periods before it, oldest first."""
    out = [period]
    while len(out) < count:
        out.append(out[-1].previous)
    return [p.label for p in reversed(out)]
