"""`orbit explain`: how one employee's figures for one period were made.

Reads the warehouse (bonus arithmetic is private to it, never in the snapshot) and shows
each metric's actual, target, achievement and weight, the composite, the payout
multiplier, the bonus arithmetic, why a row is incomplete, and the opportunities that
made the employee's commercial contribution.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import duckdb

from transforms.periods import check_period_kind, parse_period
from warehouse.db import query_frame


class NothingToExplain(LookupError):
    pass


def not_evaluated_hint(period: str, evaluated: list[str]) -> str:
    """What to do about a period with no results, given the ``evaluated`` ones: never a command that would be
    refused (a month on a quarterly plan points at its quarter)."""
    if not evaluated:
        return "nothing has been evaluated yet; run `orbit run`"
    kind = parse_period(evaluated[0]).kind
    try:
        check_period_kind(period, kind)
    except ValueError as e:
        return str(e)
    span = evaluated[0] if len(evaluated) == 1 else f"{evaluated[0]} to {evaluated[-1]}"
    return (f"period {period} has not been evaluated (evaluated: {span}); `orbit evaluate --period {period}` "
            "evaluates it if it holds data")


def gather_explanation(con: duckdb.DuckDBPyConnection, employee: str, period: str) -> dict:
    score = query_frame(con, "SELECT * FROM bonus_lines WHERE employee_id = ? AND period = ?", [employee, period])
    if score.height == 0:
        known = con.execute("SELECT count(*) FROM bonus_lines WHERE period = ?", [period]).fetchall()[0][0]
        evaluated = [p for (p,) in con.execute("SELECT DISTINCT period FROM bonus_lines ORDER BY 1").fetchall()]
        hint = (f"{employee} was not employed in {period}" if known else not_evaluated_hint(period, evaluated))
        raise NothingToExplain(f"nothing to explain for {employee} in {period}: {hint}")
    s = score.row(0, named=True)
    incomplete_reason = con.execute(
        "SELECT incomplete_reason, missing_policy FROM employee_scores WHERE employee_id = ? AND period = ?",
        [employee, period]
    ).fetchall()
    metrics = query_frame(
        con,
        """SELECT metric, direction, actual, target, target_source, achievement, cap, weight, effective_weight,
                  weighted_score, included, reason, detail, actual_exact, achievement_exact, when_missing
           FROM evaluation_matrix WHERE employee_id = ? AND period = ? ORDER BY weight DESC, metric""",
        [employee, period],
    ).to_dicts()
    credits = query_frame(
        con,
        """SELECT c.opportunity_id, c.department, c.model, c.credit, c.share, o.amount, o.customer_id,
                  o.owner_employee_id, o.closed_at
           FROM attribution_credits c LEFT JOIN opportunities o USING (opportunity_id)
           WHERE c.employee_id = ? AND c.period = ? ORDER BY c.credit DESC, c.opportunity_id""",
        [employee, period],
    ).to_dicts()
    return {
        "employee_id": employee,
        "full_name": s["full_name"],
        "period": period,
        "department": s["department"],
        "role": s["role"],
        "plan_version": s["plan_version"],
        "run_id": s["run_id"],
        "metrics": metrics,
        "composite": s["composite_exact"],
        "payout_multiplier": s["multiplier_exact"],
        "incomplete": s["incomplete"],
        "incomplete_reason": incomplete_reason[0][0] if incomplete_reason else None,
        "missing_policy": incomplete_reason[0][1] if incomplete_reason else None,
        "bonus": {
            "bonus_target": s["bonus_target"],
            "period_share": s["period_share"],
            "fte_days": s["fte_days"],
            "days_in_period": s["days_in_period"],
            "multiplier": s["multiplier_exact"],
            "bonus_amount": s["bonus_amount"],
            "currency": s["currency"],
        },
        "contribution": credits,
        "contribution_total": sum((c["credit"] for c in credits), Decimal(0)),
    }


def _num(value, places: int = 4) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):.{places}f}" if not isinstance(value, str) else value


def _ratio(text: str | None) -> str:
    """An exact rational as decimal (6 places), with the fraction when it is not a short decimal."""
    if text is None:
        return "—"
    f = Fraction(text)
    shown = f"{float(f):.6f}"
    return shown if Fraction(shown) == f else f"{shown} (= {text})"


def _missing_note(m: dict) -> str | None:
    """What the plan's missing-data policy did to one metric, if anything was missing."""
    if not m["reason"]:
        return None
    if m.get("when_missing") == "zero":
        return f"missing: {m['reason']}, counted as 0"
    return f"removed: {m['reason']}" + (", bonus held" if m.get("when_missing") == "hold" else "")


def render_explanation(x: dict) -> str:
    b = x["bonus"]
    out = [
        f"{x['employee_id']} {x['full_name'] or ''} — {x['department']} / {x['role']} — {x['period']}",
        f"plan {x['plan_version']}, run {x['run_id'][:12]}",
        "",
        f"{'metric':<18}{'actual':>16}{'target':>14} {'(source)':<12}{'achievement':>12}{'weight':>8}"
        f"{'used':>8}{'weighted':>10}",
    ]
    for m in x["metrics"]:
        used = _num(m["effective_weight"], 3) if m["included"] else "—"
        out.append(
            f"{m['metric']:<18}{_num(m['actual']):>16}{_num(m['target']):>14} {('(' + (m['target_source'] or 'none') + ')'):<12}"
            f"{_num(m['achievement']):>12}{_num(m['weight'], 3):>8}{used:>8}{_num(m['weighted_score']):>10}"
        )
        notes = "; ".join(n for n in (m["detail"], _missing_note(m)) if n)
        if notes:
            out.append(f"{'':<18}{notes}")
    out += [
        "",
        f"composite          = Σ used weight × achievement = {_ratio(x['composite'])}",
        f"payout multiplier  = payout curve at the composite = {_ratio(x['payout_multiplier'])}",
        f"bonus              = bonus target {b['bonus_target']} × period share {b['period_share']}"
        f" × fte-days {_num(b['fte_days'], 2)} / {b['days_in_period']} days × multiplier"
        f" = {b['bonus_amount']} {b['currency']} (half-up to cents, once)",
    ]
    if x["incomplete"]:  # flagged: what was missing and what the plan's when_missing did (zero, hold: in the reason)
        renormalised = "renormalise" in (x["missing_policy"] or "").split(",")
        out.append(f"INCOMPLETE: {x['incomplete_reason']}"
                   + (" (weights of the remaining metrics renormalised)" if renormalised else ""))
    out += ["", f"Commercial contribution: {x['contribution_total']:.2f} from {len(x['contribution'])} won opportunities"]
    for c in x["contribution"][:20]:
        out.append(
            f"  {c['opportunity_id']:<10} amount {c['amount']:>12,.2f}  credit {c['credit']:>11,.2f}"
            f"  share {Decimal(c['share']):.4f}  ({c['model']}, as {c['department']}, owner {c['owner_employee_id']})"
        )
    if len(x["contribution"]) > 20:
        out.append(f"  … and {len(x['contribution']) - 20} more (use --json for all)")
    return "\n".join(out)


def to_json(x: dict) -> str:
    def default(v):
        if isinstance(v, Decimal):
            return str(v)
        if hasattr(v, "isoformat"):
            return v.isoformat()
        raise TypeError(type(v))

    return json.dumps(x, default=default, indent=2, sort_keys=False)
