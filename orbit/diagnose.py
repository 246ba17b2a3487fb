"""`orbit diagnose --period P`: the revenue funnel of a period and where its gap came from.

Reads the published ``revenue_funnel`` (see :mod:`transforms.funnel` for the chain and the exact
LMDI decomposition) and prints each stage's figure against its target and the previous period, then
each stage's contribution to the gap between won revenue and its target, and to the change from
the previous period (they add up to the gap to the cent).
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

#: how each stage's figure and factor are written
_COUNT_STAGES = {"leads", "answered", "closed"}


def _num(value: Decimal | None, places: int = 2) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def _count(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _pct(value: Decimal | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _signed(value: Decimal | None, currency: str) -> str:
    if value is None:
        return "–"
    return ("+" if value > 0 else "") + f"{value:,.2f} {currency}"


def figure_text(row: dict, *, target: bool = False, previous: bool = False) -> str:
    """A stage's figure (or its target, or its previous value) as people read it."""
    stage = row["stage"]
    fig = row["target_figure"] if target else row["previous_figure"] if previous else row["figure"]
    fac = row["target_factor"] if target else row["previous_factor"] if previous else row["factor"]
    if stage == "leads":
        return _count(fig)
    if stage == "answered":
        return f"{_count(fig)} ({_pct(fac)})" if fac is not None else _count(fig)
    if stage == "closed":
        return f"{_count(fig)} ({_num(fac)} per answered)" if fac is not None else _count(fig)
    if stage == "win_rate":
        return _pct(fig)
    return _num(fig)


def share_text(part: Decimal | None, total: Decimal | None) -> str:
    if part is None or not total:
        return ""
    pct = round(part / total * 100)
    return f"{pct if pct else 0} %"


def render_diagnosis(rows: pl.DataFrame, currency: str) -> str:
    """The funnel and its two decompositions as text."""
    recs = rows.to_dicts()
    period = recs[0]["period"]
    last = recs[-1]
    prev_label = _previous_label(period)
    lines = [f"Revenue funnel {period} (plan {last.get('plan_version') or '?'}):",
             f"  {'stage':<34}{'figure':>28}{'target':>28}{prev_label:>28}"]
    for r in recs:
        lines.append(f"  {r['label']:<34}{figure_text(r):>28}{figure_text(r, target=True):>28}"
                     f"{figure_text(r, previous=True):>28}")
    lines.append("")
    gap = last["contribution_to_gap"]
    if gap is None:
        lines.append("Gap to target: the plan gives no funnel target (funnel.targets in the plan).")
    else:
        lines.append(f"Where the revenue gap came from (won revenue − target = {_signed(gap, currency)}):")
        lines += _parts(recs, "contribution_to_gap", currency)
    change = last["contribution_to_change"]
    lines.append("")
    if change is None:
        lines.append(f"Change from {prev_label}: no data in {prev_label}.")
    else:
        lines.append(f"Change from {prev_label} ({_signed(change, currency)}):")
        lines += _parts(recs, "contribution_to_change", currency)
    if last.get("note"):
        lines += ["", f"Note: {last['note']}."]
    lines += ["", "Contributions: logarithmic mean Divisia index (exact: they add up to the total to the cent)."]
    return "\n".join(lines)


def _parts(recs: list[dict], column: str, currency: str) -> list[str]:
    total = recs[-1][column]
    if all(r[column] is None for r in recs[:-1]):
        return ["  (not split by stage; see the note)"]
    out = [f"  {r['label']:<34}{_signed(r[column], currency):>24}{share_text(r[column], total):>8}"
           for r in recs[:-1]]
    out.append(f"  {'total':<34}{_signed(total, currency):>24}")
    return out


def _previous_label(period: str) -> str:
    from transforms.periods import parse_period

    return f"previous ({parse_period(period).previous.label})"
