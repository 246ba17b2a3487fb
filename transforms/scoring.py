"""Scoring: achievements, composite, payout multiplier and bonus — exactly.

Everything is computed with :class:`fractions.Fraction` (Decimal inputs convert exactly);
display columns are Decimal(38,12) rounded half-up from the exact values, and the exact
values are also carried as text ('p/q' or an integer) for exports. Money is Decimal,
rounded half-up to cents once, at the end. Per-row Python is fine here: thousands of
employees × a handful of metrics.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

import polars as pl

from schemas.plan import Plan
from transforms.periods import Period

Number = Fraction | Decimal | int | float | str
DISPLAY_PLACES = 12
DISPLAY = pl.Decimal(38, DISPLAY_PLACES)
MONEY = pl.Decimal(18, 2)

MATRIX_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.Utf8(),
    "employee_id": pl.Utf8(),
    "department": pl.Utf8(),
    "role": pl.Utf8(),
    "metric": pl.Utf8(),
    "direction": pl.Utf8(),
    "actual": DISPLAY,
    "target": DISPLAY,
    "achievement": DISPLAY,
    "cap": DISPLAY,
    "weight": DISPLAY,
    "effective_weight": DISPLAY,
    "weighted_score": DISPLAY,
    "included": pl.Boolean(),
    "reason": pl.Utf8(),
    "actual_exact": pl.Utf8(),
    "achievement_exact": pl.Utf8(),
    "effective_weight_exact": pl.Utf8(),
    "weighted_score_exact": pl.Utf8(),
    "detail": pl.Utf8(),
    "target_source": pl.Utf8(),
}
SCORES_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.Utf8(),
    "employee_id": pl.Utf8(),
    "department": pl.Utf8(),
    "role": pl.Utf8(),
    "composite": DISPLAY,
    "payout_multiplier": DISPLAY,
    "incomplete": pl.Boolean(),
    "incomplete_reason": pl.Utf8(),
    "composite_exact": pl.Utf8(),
    "multiplier_exact": pl.Utf8(),
    "bonus_target": MONEY,
    "fte_days": pl.Decimal(38, 9),
    "days_in_period": pl.Int64(),
    "period_share": pl.Utf8(),
    "bonus_amount": MONEY,
    "currency": pl.Utf8(),
    "full_name": pl.Utf8(),
}

# reason codes of a removed metric (matrix.reason) and their wording (scores.incomplete_reason)
NO_ACTUAL = "no_actual"
NO_TARGET = "no_target"
NO_ACTUAL_NO_TARGET = "no_actual_no_target"


# ---------------------------------------------------------------------------
# exact helpers
# ---------------------------------------------------------------------------
def to_fraction(value: Number | None) -> Fraction | None:
    """Exact Fraction of a Decimal/int/Fraction/str; a float is taken by its shortest repr (0.1 -> 1/10)."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number here")
    if isinstance(value, float):
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        return _decimal_fraction(value)
    return Fraction(value)


@lru_cache(maxsize=65536)
def _decimal_fraction(value: Decimal) -> Fraction:
    """Cached: the same few Decimals (weights, caps, targets, curve points) recur on every row."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return Fraction(value)


def round_half_up(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half away from zero (ROUND_HALF_UP) to ``places`` decimals, exactly.

    Integer arithmetic only (``floor((2|p|·10^places + q) / 2q)``), no intermediate Fractions.
    """
    num, den = value.numerator, value.denominator
    n = (2 * abs(num) * 10**places + den) // (2 * den)
    return Decimal(f"{'-' if num < 0 and n else ''}{n}E-{places}")


def exact_text(value: Fraction | None) -> str | None:
    """'p/q' in lowest terms, or an integer; None stays None."""
    if value is None:
        return None
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _display(value: Fraction | None) -> Decimal | None:
    return None if value is None else round_half_up(value, DISPLAY_PLACES)


# ---------------------------------------------------------------------------
# the three exact rules
# ---------------------------------------------------------------------------
def compute_achievement(
    actual: Number | None, target: Number | None, direction: str, cap: Number
) -> Fraction | None:
    """Achievement per DESIGN "Edge cases of achievement"; None when the metric must be removed.

    higher: actual / target; a target <= 0 is no target.
    lower: target / actual; actual 0 gives the cap; target 0 with actual > 0 gives 0.
    Clipped to [0, cap]. A missing actual or target gives None.
    """
    a, t, c = to_fraction(actual), to_fraction(target), to_fraction(cap)
    assert c is not None
    if a is None or t is None:
        return None
    if direction == "higher":
        if t <= 0:
            return None
        ratio = a / t
    elif direction == "lower":
        if a == 0:
            return c
        ratio = t / a
    else:
        raise ValueError(f"unknown direction {direction!r}: use 'higher' or 'lower'")
    return min(max(ratio, Fraction(0)), c)


def payout_multiplier(curve: Iterable[tuple[Number, Number]] | Iterable[Iterable[Number]], composite: Number) -> Fraction:
    """The piecewise-linear payout curve at ``composite``, exactly.

    Points are taken sorted by x (stable, so of two points with the same x the later stays later);
    two points with the same x make a step and the later one wins at that x; below the first point
    the first y applies, beyond the last point the last y (flat tails).
    """
    # the key carries each value's type: equal values of different types may convert differently
    xs, pts = _curve_points(tuple((type(x), x, type(y), y) for x, y in curve))  # type: ignore[misc]
    x = to_fraction(composite)
    assert x is not None
    i = bisect_right(xs, x) - 1  # last point with x_i <= x
    if i < 0:
        return pts[0][1]  # type: ignore[return-value]
    x0, y0 = pts[i]
    if x0 == x or i == len(pts) - 1:
        return y0  # type: ignore[return-value]
    x1, y1 = pts[i + 1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)  # type: ignore[operator]


@lru_cache(maxsize=64)
def _curve_points(key: tuple[tuple[type, Number, type, Number], ...]
                  ) -> tuple[tuple[Fraction, ...], tuple[tuple[Fraction, Fraction], ...]]:
    """The curve's points as Fractions sorted (stably) by x, and their xs; cached per curve."""
    pts = [(to_fraction(x), to_fraction(y)) for _, x, _, y in key]
    if not pts:
        raise ValueError("a payout curve needs at least one point")
    pts.sort(key=lambda p: p[0])  # type: ignore[arg-type,return-value]
    return tuple(p[0] for p in pts), tuple(pts)  # type: ignore[return-value]


def compute_bonus(
    bonus_target: Number, period_share: Number, fte_days: Number, days_in_period: int, multiplier: Number
) -> Decimal:
    """bonus_target × period_share × fte_days / days_in_period × multiplier, rounded half-up to cents once."""
    if days_in_period <= 0:
        raise ValueError(f"days_in_period must be positive, got {days_in_period}")
    exact = (
        to_fraction(bonus_target)  # type: ignore[operator]
        * to_fraction(period_share)
        * to_fraction(fte_days)
        / days_in_period
        * to_fraction(multiplier)
    )
    return round_half_up(exact, 2)


# ---------------------------------------------------------------------------
# one employee
# ---------------------------------------------------------------------------
def score_one(
    plan: Plan,
    weight_row: Mapping[str, Number],
    actuals: Mapping[str, Fraction | None],
    targets: Mapping[str, Fraction | None],
) -> tuple[list[dict[str, Any]], Fraction, Fraction, bool, str | None]:
    """Score one employee's weight row. Returns (metric rows, composite, multiplier, incomplete, reason).

    Each metric row holds: metric, direction, actual, target, cap, achievement, weight,
    effective_weight, weighted_score (Fractions or None), included, reason.
    """
    rows: list[dict[str, Any]] = []
    for metric, weight in weight_row.items():
        spec = plan.metrics[metric]
        actual, target = actuals.get(metric), targets.get(metric)
        cap = to_fraction(plan.cap_for(metric))
        ach = compute_achievement(actual, target, spec.direction, cap)  # type: ignore[arg-type]
        no_target = target is None or (spec.direction == "higher" and target <= 0)
        reason = None
        if ach is None:
            reason = NO_ACTUAL_NO_TARGET if actual is None and no_target else NO_ACTUAL if actual is None else NO_TARGET
        rows.append({
            "metric": metric, "direction": spec.direction, "actual": actual, "target": target, "cap": cap,
            "achievement": ach, "weight": to_fraction(weight), "included": ach is not None, "reason": reason,
            "target_not_positive": target is not None and no_target,
        })
    total = sum((r["weight"] for r in rows if r["included"]), Fraction(0))
    composite = Fraction(0)
    for r in rows:
        if r["included"] and total > 0:
            r["effective_weight"] = r["weight"] / total
            r["weighted_score"] = r["effective_weight"] * r["achievement"]
            composite += r["weighted_score"]
        else:
            r["effective_weight"] = Fraction(0)
            r["weighted_score"] = Fraction(0) if r["included"] else None
    removed = [r for r in rows if not r["included"]]
    parts = []
    for r in removed:
        words = {NO_ACTUAL: "no actual", NO_TARGET: "no target", NO_ACTUAL_NO_TARGET: "no actual, no target"}[r["reason"]]
        if r["target_not_positive"]:
            words += " (target <= 0)"
        parts.append(f"{r['metric']}: {words}")
    if not rows:
        parts.append("no weight row")
    incomplete = bool(parts)
    if total > 0:
        multiplier = payout_multiplier(plan.payout_curve, composite)
    else:  # every metric removed (or only zero-weight metrics left): nothing to pay on
        composite, multiplier, incomplete = Fraction(0), Fraction(0), True
        if not parts:
            parts.append("no weighted metric left")
    return rows, composite, multiplier, incomplete, ("; ".join(parts) or None)


# ---------------------------------------------------------------------------
# the frame-level entry point
# ---------------------------------------------------------------------------
def score_employees(
    plan: Plan, period: Period, roster: pl.DataFrame, actuals: pl.DataFrame, targets: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Score every roster employee for ``period``; returns (matrix, scores).

    matrix: one row per employee × metric of their weight row (:data:`MATRIX_SCHEMA`);
    ``weight`` is the plan weight, ``effective_weight`` the renormalised one (0 when removed),
    ``weighted_score`` = effective_weight × achievement (null when removed), so the composite is
    the sum of ``weighted_score``. scores: one row per employee (:data:`SCORES_SCHEMA`).
    """
    act: dict[tuple[str, str], tuple[Fraction | None, str | None]] = {}
    for emp, metric, num, den, detail in actuals.select(
        "employee_id", "metric", "actual_num", "actual_den", "detail"
    ).iter_rows():
        value = None
        if num is not None and den is not None and den != 0:
            value = to_fraction(num) / to_fraction(den)  # type: ignore[operator]
        act[(emp, metric)] = (value, detail)
    tgt: dict[tuple[str, str], tuple[Fraction | None, str | None]] = {}
    has_source = "target_source" in targets.columns
    for row in targets.iter_rows(named=True):
        tgt[(row["employee_id"], row["metric"])] = (
            to_fraction(row["target"]), row["target_source"] if has_source else None,
        )

    share = period.share
    share_text = exact_text(share)
    # built column by column (much cheaper than one dict per row)
    matrix: dict[str, list[Any]] = {name: [] for name in MATRIX_SCHEMA}
    scores: dict[str, list[Any]] = {name: [] for name in SCORES_SCHEMA}
    none_pair = (None, None)
    for emp in roster.sort("employee_id").iter_rows(named=True):
        eid, dept, role = emp["employee_id"], emp["department"], emp["role"]
        wrow = plan.weight_row(dept, role)
        a_pairs = {m: act.get((eid, m), none_pair) for m in wrow}
        t_pairs = {m: tgt.get((eid, m), none_pair) for m in wrow}
        rows, composite, multiplier, incomplete, reason = score_one(
            plan, wrow, {m: v[0] for m, v in a_pairs.items()}, {m: v[0] for m, v in t_pairs.items()})
        for r in rows:
            m = r["metric"]
            for name, value in (
                ("period", period.label), ("employee_id", eid), ("department", dept), ("role", role), ("metric", m),
                ("direction", r["direction"]),
                ("actual", _display(r["actual"])), ("target", _display(r["target"])),
                ("achievement", _display(r["achievement"])), ("cap", _display(r["cap"])),
                ("weight", _display(r["weight"])), ("effective_weight", _display(r["effective_weight"])),
                ("weighted_score", _display(r["weighted_score"])),
                ("included", r["included"]), ("reason", r["reason"]),
                ("actual_exact", exact_text(r["actual"])), ("achievement_exact", exact_text(r["achievement"])),
                ("effective_weight_exact", exact_text(r["effective_weight"])),
                ("weighted_score_exact", exact_text(r["weighted_score"])),
                ("detail", a_pairs[m][1]), ("target_source", t_pairs[m][1]),
            ):
                matrix[name].append(value)
        days = int(emp["days_in_period"]) if emp.get("days_in_period") is not None else period.days
        fte_days = emp["fte_days"]
        bonus_target = emp["bonus_target"]
        bonus = (
            compute_bonus(bonus_target, share, fte_days, days, multiplier)
            if bonus_target is not None and fte_days is not None
            else None
        )
        for name, value in (
            ("period", period.label), ("employee_id", eid), ("department", dept), ("role", role),
            ("composite", _display(composite)), ("payout_multiplier", _display(multiplier)),
            ("incomplete", incomplete), ("incomplete_reason", reason),
            ("composite_exact", exact_text(composite)), ("multiplier_exact", exact_text(multiplier)),
            ("bonus_target", bonus_target), ("fte_days", fte_days), ("days_in_period", days),
            ("period_share", share_text), ("bonus_amount", bonus),
            ("currency", emp.get("currency")), ("full_name", emp.get("full_name")),
        ):
            scores[name].append(value)
    return pl.DataFrame(matrix, schema=MATRIX_SCHEMA), pl.DataFrame(scores, schema=SCORES_SCHEMA)
