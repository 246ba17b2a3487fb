"""`orbit explain`: how one employee's figures for one period were made — the statement's model
(:mod:`transforms.statements`) in a terminal.

Each metric's actual, target (and where it came from), achievement (marked when capped), weight and the
weight used, the composite, where it sits on the payout curve, the bonus arithmetic with fte and days
employed, why a row is incomplete, and the opportunities behind the commercial contribution. Figures are
laid out as the employee's statement lays them out (one way, Babel, half-up once); ``--json`` gives every
ratio as a decimal string beside the exact rational.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

from orbit.i18n import Formatter
from orbit.statements import department_label, metric_label
from schemas.plan import Plan
from transforms.scoring import round_half_up
from transforms.statements import MONEY_KINDS, SHARE_KINDS, Statement
from warehouse.explain import NothingToExplain, gather_explanation, not_evaluated_hint

__all__ = ["NothingToExplain", "gather_explanation", "not_evaluated_hint", "render_explanation", "to_json"]

#: opportunities listed in the text (all of them in --json)
SHOWN_OPPORTUNITIES = 20


def _actual(fmt: Formatter, kind: str, value: Fraction | None) -> str:
    if value is None:
        return "—"
    if kind in MONEY_KINDS:
        return fmt.money(value)
    if kind in SHARE_KINDS:
        return fmt.percent(value, 1)
    return fmt.number(value, 4)


def _curve_words(fmt: Formatter, s: Statement) -> str:
    """Where the composite sits on the payout curve: the segment (or step, or flat tail) that gives the multiplier."""
    pts = list(s.payout_curve)
    c = s.composite
    p = lambda pt: f"({fmt.number(pt[0], 4)}, {fmt.number(pt[1], 4)})"  # noqa: E731
    if c <= pts[0][0]:
        return f"at or below the first point {p(pts[0])}: flat"
    if c >= pts[-1][0]:
        return f"at or beyond the last point {p(pts[-1])}: flat"
    for a, b in zip(pts, pts[1:]):
        if a[0] <= c < b[0] or (c == b[0] and a[0] < c):
            if c == a[0]:
                return f"on the point {p(a)}"
            return f"between {p(a)} and {p(b)}: {fmt.number(a[1], 4)} + ({fmt.number(b[1], 4)} − " \
                   f"{fmt.number(a[1], 4)}) × (composite − {fmt.number(a[0], 4)}) / " \
                   f"({fmt.number(b[0], 4)} − {fmt.number(a[0], 4)})"
    return "on the curve"


def render_explanation(plan: Plan, s: Statement, lang: str = "en") -> str:
    fmt = Formatter(lang, s.currency or plan.currency)
    b = s.bonus
    state = ", ".join(w.replace("_", " ") for w in s.status_words)
    out = [
        f"{s.employee_id} {s.full_name or ''} — {department_label(plan, s.department, lang)} / {s.role or '—'} — "
        f"{s.period.label} ({s.period.start} to {s.period.end}, {state})",
        f"plan {s.plan_name} {s.plan_version}, run {s.run_id[:12]}",
        "",
        f"{'metric':<20}{'actual':>14}{'target':>14} {'(source)':<13}{'achievement':>13} {'':<7}{'weight':>8}"
        f"{'used':>8}{'weighted':>11}",
    ]
    for m in s.metrics:
        used = fmt.percent(m.effective_weight) if m.included else "—"
        out.append(
            f"{metric_label(plan, m.metric, lang)[:19]:<20}{_actual(fmt, m.kind, m.actual):>14}"
            f"{_actual(fmt, m.kind, m.target):>14} {('(' + (m.target_source or 'none') + ')'):<13}"
            f"{fmt.percent(m.achievement) if m.achievement is not None else '—':>13} "
            f"{'capped' if m.capped else '':<7}{fmt.percent(m.weight):>8}{used:>8}"
            f"{fmt.number(m.weighted_score) if m.weighted_score is not None else '—':>11}")
        notes = []
        if m.capped:
            notes.append(f"capped at {fmt.percent(m.cap)}")
        if m.detail:
            notes.append(m.detail)
        if m.reason:
            what = {"zero": "counted as 0", "hold": "left out, bonus held"}.get(m.when_missing or "", "left out")
            notes.append(f"{what}: {m.reason}")
        if notes:
            out.append(f"{'':<20}{'; '.join(notes)}")
    if b.fte is not None and b.days_employed is not None:
        time_part = f"fte {fmt.number(b.fte, 4)} × {b.days_employed} days employed / {b.days_in_period} days"
    elif b.days_employed is not None:
        time_part = (f"{fmt.number(b.fte_days, 4)} fte-days ({b.days_employed} days employed, fte changed) / "
                     f"{b.days_in_period} days")
    else:
        time_part = f"{fmt.number(b.fte_days, 4)} fte-days / {b.days_in_period} days"
    out += [
        "",
        f"composite          = Σ used weight × achievement = {fmt.number(s.composite)}",
        f"payout multiplier  = the payout curve at the composite = {fmt.number(s.multiplier)}",
        f"                     {_curve_words(fmt, s)}",
        "                     curve: " + "; ".join(f"{fmt.number(x, 4)} → {fmt.number(y, 4)}"
                                                   for x, y in s.payout_curve),
        f"bonus              = bonus target {fmt.money(b.bonus_target)} × period share {fmt.exact(b.period_share)}"
        f" × {time_part} × multiplier {fmt.number(b.multiplier)}",
        f"                   = {fmt.money(b.amount)} (half-up to cents, once)",
    ]
    if s.incomplete:  # what was missing and what the plan's when_missing did (zero, hold: in the reason)
        renormalised = not b.held and (s.missing_policy is None or "renormalise" in s.missing_policy.split(","))
        out.append(f"INCOMPLETE: {s.incomplete_reason}"
                   + (" (weights of the remaining metrics renormalised)" if renormalised else ""))
    out += ["", f"Commercial contribution: {fmt.money(s.contribution_total)} from {len(s.opportunities)} won "
                f"opportunities"]
    for o in s.opportunities[:SHOWN_OPPORTUNITIES]:
        how = ", ".join(o.touch_types) or "owner, no recorded touch"
        out.append(f"  {o.opportunity_id:<10} {o.customer_id or '—':<10} amount {fmt.money(o.amount):>14}  credit "
                   f"{fmt.money(o.credit):>13}  share {fmt.percent(o.share) if o.share is not None else '—':>8}"
                   f"  (as {o.department}: {how})")
    if len(s.opportunities) > SHOWN_OPPORTUNITIES:
        out.append(f"  … and {len(s.opportunities) - SHOWN_OPPORTUNITIES} more (use --json for all)")
    return "\n".join(out)


def _jsonable(value):
    """Fractions as {"exact": "p/q", "decimal": "0.123457"} (half-up to 6 places), money and dates as text."""
    if isinstance(value, Fraction):
        exact = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
        return {"exact": exact, "decimal": str(round_half_up(value, 6))}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(s: Statement) -> str:
    return json.dumps(_jsonable(s), indent=2, ensure_ascii=False)
