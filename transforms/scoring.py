"""Scoring: achievements, composite, payout multiplier and bonus — exactly.

Everything is computed with :class:`fractions.Fraction` (Decimal inputs convert exactly);
display columns are Decimal(38,12) rounded half-up from the exact values, and the exact
values are also carried as text ('p/q' or an integer) for exports. Money is Decimal,
rounded half-up to cents once, at the end.

At scale (about 150,000 employee × metric rows a year for 10,000 employees) the exact
arithmetic is the cost: :func:`score_employees` does the joins in polars and the Python
arithmetic once per *distinct* (metric, actual, target) and (effective weight, achievement),
and where a chain of operations allows, on plain integers normalised once (composite sum,
curve interpolation, bonus product) instead of through a Fraction per step.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, overload

import polars as pl

from schemas.marts import COVERAGE_COLUMNS, FIGURE_PLACES, POLARS_TYPES, frame_schema
from schemas.plan import Plan
from transforms.periods import Period
from transforms.rounding import round_half_up, round_ratio

Number = Fraction | Decimal | int | float | str
DISPLAY_PLACES = FIGURE_PLACES
DISPLAY = POLARS_TYPES["figure"]
MONEY = POLARS_TYPES["money"]

#: The matrix frame: evaluation_matrix's declared columns (schemas/marts.py) without the run stamps.
MATRIX_SCHEMA: dict[str, pl.DataType] = dict(frame_schema("evaluation_matrix"))
#: The scores frame: one row per employee that fills both employee_scores and the private bonus_lines
#: (the period's coverage columns are added by the evaluation, transforms.coverage.with_coverage).
SCORES_SCHEMA: dict[str, pl.DataType] = dict(frame_schema("employee_scores", "bonus_lines",
                                                          exclude=COVERAGE_COLUMNS))

# reason codes of a removed metric (matrix.reason) and their wording (scores.incomplete_reason)
NO_ACTUAL = "no_actual"
NO_TARGET = "no_target"
NO_ACTUAL_NO_TARGET = "no_actual_no_target"
# what a missing metric did (matrix.when_missing; scores.missing_policy lists them, strongest first)
RENORMALISE, ZERO, HOLD = "renormalise", "zero", "hold"
_POLICY_ORDER = (HOLD, ZERO, RENORMALISE)


# ---------------------------------------------------------------------------
# exact helpers
# ---------------------------------------------------------------------------
@overload
def to_fraction(value: None) -> None: ...
@overload
def to_fraction(value: Number) -> Fraction: ...
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
    x = to_fraction(composite)
    assert x is not None
    return _curve_value(_prepared_curve(curve), x)


_Curve = tuple[tuple[Fraction, ...], tuple[tuple[Fraction, Fraction], ...]]  # xs, points (sorted by x)


def _prepared_curve(curve: Iterable[tuple[Number, Number]] | Iterable[Iterable[Number]]) -> _Curve:
    # the key carries each value's type: equal values of different types may convert differently
    return _curve_points(tuple((type(x), x, type(y), y) for x, y in curve))


def _curve_value(curve: _Curve, x: Fraction) -> Fraction:
    """The prepared curve at ``x``: the interpolation in integers, normalised once."""
    xs, pts = curve
    i = bisect_right(xs, x) - 1  # last point with x_i <= x
    if i < 0:
        return pts[0][1]
    x0, y0 = pts[i]
    if x0 == x or i == len(pts) - 1:
        return y0
    x1, y1 = pts[i + 1]
    # y0 + (y1 - y0)(x - x0) / (x1 - x0), over the common denominator of y0, y1, x, x0 and x1
    dy_n = y1.numerator * y0.denominator - y0.numerator * y1.denominator  # (y1 - y0) * dy_d
    dy_d = y0.denominator * y1.denominator
    dx_n = x.numerator * x0.denominator - x0.numerator * x.denominator  # (x - x0) * dx_d
    dx_d = x.denominator * x0.denominator
    w_n = x1.numerator * x0.denominator - x0.numerator * x1.denominator  # (x1 - x0) * w_d
    w_d = x1.denominator * x0.denominator
    num = dy_n * dx_n * w_d
    den = dy_d * dx_d * w_n
    return Fraction(y0.numerator * den + num * y0.denominator, y0.denominator * den)


@lru_cache(maxsize=64)
def _curve_points(key: tuple[tuple[type, Number, type, Number], ...]
                  ) -> tuple[tuple[Fraction, ...], tuple[tuple[Fraction, Fraction], ...]]:
    """The curve's points as Fractions sorted (stably) by x, and their xs; cached per curve."""
    pts = [(to_fraction(x), to_fraction(y)) for _, x, _, y in key]
    if not pts:
        raise ValueError("a payout curve needs at least one point")
    pts.sort(key=lambda p: p[0])
    return tuple(p[0] for p in pts), tuple(pts)


def compute_bonus(
    bonus_target: Number, period_share: Number, fte_days: Number, days_in_period: int, multiplier: Number
) -> Decimal:
    """bonus_target × period_share × fte_days / days_in_period × multiplier, rounded half-up to cents once."""
    if days_in_period <= 0:
        raise ValueError(f"days_in_period must be positive, got {days_in_period}")
    num, den = 1, days_in_period
    for factor in (bonus_target, period_share, fte_days, multiplier):
        f = to_fraction(factor)
        assert f is not None
        num, den = num * f.numerator, den * f.denominator
    return round_ratio(num, den, 2)  # one rounding of the exact product, no intermediate normalising


# ---------------------------------------------------------------------------
# pieces shared by one employee (score_one) and the frame (score_employees)
# ---------------------------------------------------------------------------
_WORDS = {NO_ACTUAL: "no actual", NO_TARGET: "no target", NO_ACTUAL_NO_TARGET: "no actual, no target"}


def _judge(actual: Fraction | None, target: Fraction | None, direction: str, cap: Fraction, policy: str = RENORMALISE
           ) -> tuple[Fraction | None, str | None, bool, str | None]:
    """(achievement or None, missing-data reason code or None, target given but not positive, what the
    missing data did: None when nothing is missing, else `renormalise` (removed), `zero` (a missing actual
    counted as achievement 0; a missing target still removes the metric) or `hold` (removed, bonus held))."""
    ach = compute_achievement(actual, target, direction, cap)
    no_target = target is None or (direction == "higher" and target <= 0)
    reason = treatment = None
    if ach is None:
        reason = NO_ACTUAL_NO_TARGET if actual is None and no_target else NO_ACTUAL if actual is None else NO_TARGET
        treatment = RENORMALISE if policy == ZERO and no_target else policy
        if treatment == ZERO:
            ach = Fraction(0)
    return ach, reason, target is not None and no_target, treatment


def _removal_text(metric: str, reason: str, target_not_positive: bool, treatment: str | None = RENORMALISE) -> str:
    return (f"{metric}: {_WORDS[reason]}" + (" (target <= 0)" if target_not_positive else "")
            + (" (counted as 0)" if treatment == ZERO else ""))


def missing_policy_text(treatments: Iterable[tuple[str | None, Fraction]]) -> str | None:
    """scores.missing_policy: the treatments that changed the result — of (treatment, weight) per metric, those
    of a missing metric with a positive weight, and `hold` whatever the weight — strongest first, or None."""
    used = {t for t, w in treatments if t is not None and (t == HOLD or w > 0)}
    return ",".join(t for t in _POLICY_ORDER if t in used) or None


def _finish_reason(reason: str | None, held: bool) -> str | None:
    return f"held (bonus 0 until the data is complete): {reason}" if held else reason


def _effective_weights(weights: list[Fraction], included: list[bool]) -> tuple[list[Fraction], Fraction]:
    """Each metric's weight renormalised over the included ones (0 when removed or nothing is left); the total."""
    total = sum((w for w, inc in zip(weights, included) if inc), Fraction(0))
    return [w / total if inc and total > 0 else Fraction(0) for w, inc in zip(weights, included)], total


def _sum_exact(values: Iterable[Fraction]) -> Fraction:
    """Σ values over their common denominator, normalised once."""
    num, den = 0, 1
    for v in values:
        num, den = num * v.denominator + v.numerator * den, den * v.denominator
    return Fraction(num, den)


def _finish_employee(curve: _Curve, weighted: Iterable[Fraction], counted: bool, parts: list[str]
                     ) -> tuple[Fraction, Fraction, bool, str | None]:
    """(composite, multiplier, incomplete, reason) from the included metrics' weighted scores; ``counted``:
    the included metrics' weights add up to more than 0; ``curve``: the plan's payout curve, prepared."""
    incomplete = bool(parts)
    if counted:
        composite = _sum_exact(weighted)
        multiplier = _curve_value(curve, composite)
    else:  # every metric removed (or only zero-weight metrics left): nothing to pay on
        composite, multiplier, incomplete = Fraction(0), Fraction(0), True
        if not parts:
            parts = ["no weighted metric left"]
    return composite, multiplier, incomplete, ("; ".join(parts) or None)


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
    effective_weight, weighted_score (Fractions or None), included, reason, when_missing (what the plan's
    missing-data policy did: None, renormalise, zero or hold; a held employee's multiplier is 0). The
    employee's ``missing_policy`` is :func:`missing_policy_text` of the rows. The definition that
    :func:`score_employees` computes for a whole roster at once.
    """
    rows: list[dict[str, Any]] = []
    for metric, weight in weight_row.items():
        direction = plan.metrics[metric].direction
        actual, target = actuals.get(metric), targets.get(metric)
        cap = to_fraction(plan.cap_for(metric))
        assert cap is not None
        ach, reason, not_positive, treatment = _judge(actual, target, direction, cap, plan.policy_for(metric))
        rows.append({
            "metric": metric, "direction": direction, "actual": actual, "target": target, "cap": cap,
            "achievement": ach, "weight": to_fraction(weight), "included": ach is not None, "reason": reason,
            "target_not_positive": not_positive, "when_missing": treatment,
        })
    effective, total = _effective_weights([r["weight"] for r in rows], [r["included"] for r in rows])
    for r, ew in zip(rows, effective):
        r["effective_weight"] = ew
        r["weighted_score"] = ew * r["achievement"] if r["included"] else None
    parts = [_removal_text(r["metric"], r["reason"], r["target_not_positive"], r["when_missing"])
             for r in rows if r["reason"] is not None]
    if not rows:
        parts.append("no weight row")
    composite, multiplier, incomplete, reason = _finish_employee(
        _prepared_curve(plan.payout_curve), (r["weighted_score"] for r in rows if r["included"]), total > 0, parts)
    held = any(r["when_missing"] == HOLD for r in rows)
    return rows, composite, Fraction(0) if held else multiplier, incomplete, _finish_reason(reason, held)


# ---------------------------------------------------------------------------
# the frame-level entry point
# ---------------------------------------------------------------------------
def _last_per_pair(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """(employee_id, metric) -> the given columns (null when absent); the last row of a repeated pair wins."""
    have = set(frame.columns)
    return frame.select(
        "employee_id", "metric",
        *(pl.col(c) if c in have else pl.lit(None, dtype=t).alias(c) for c, t in columns.items()),
    ).unique(subset=["employee_id", "metric"], keep="last", maintain_order=True)


def _keyed(frame: pl.DataFrame, keys: list[str], name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` with an integer ``name`` numbering its distinct ``keys`` values, and those distinct values.

    The exact (Python) arithmetic then runs once per distinct value, not once per row: at scale most
    rows repeat an (actual, target) or (effective weight, achievement) pair."""
    distinct = frame.select(keys).unique(maintain_order=True).with_row_index(name)
    return frame.join(distinct, on=keys, how="left", nulls_equal=True, maintain_order="left"), distinct


def _display_series(values: Sequence[Fraction | None]) -> pl.Series:
    return pl.Series([_display(v) for v in values], dtype=DISPLAY)


def _text_series(values: Sequence[Fraction | None]) -> pl.Series:
    return pl.Series([exact_text(v) for v in values], dtype=pl.Utf8)


def score_employees(
    plan: Plan, period: Period, roster: pl.DataFrame, actuals: pl.DataFrame, targets: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Score every roster employee for ``period``; returns (matrix, scores).

    matrix: one row per employee × metric of their weight row (:data:`MATRIX_SCHEMA`);
    ``weight`` is the plan weight, ``effective_weight`` the renormalised one (0 when removed),
    ``weighted_score`` = effective_weight × achievement (null when removed), so the composite is
    the sum of ``weighted_score``. scores: one row per employee (:data:`SCORES_SCHEMA`).

    The same values as :func:`score_one` per employee, exactly. The joins are polars; the exact
    arithmetic runs in Python once per distinct (metric, actual, target), (department, role,
    metrics kept) and (effective weight, achievement), and once per employee for the composite,
    multiplier and bonus.
    """
    emps = roster.sort("employee_id", maintain_order=True).with_row_index("employee_idx")
    ecols = set(emps.columns)
    emps = emps.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in
                             (("days_in_period", pl.Int64()), ("currency", pl.Utf8()), ("full_name", pl.Utf8()))
                             if c not in ecols)
    cells, weights = _weight_cells(plan, emps, actuals, targets)
    metrics = sorted(set(cells.get_column("metric").to_list()))
    caps = {m: to_fraction(plan.cap_for(m)) for m in metrics}
    directions = {m: plan.metrics[m].direction for m in metrics}
    cells, achievements = _judge_cells(cells, directions, caps, {m: plan.policy_for(m) for m in metrics})
    cells, effective, counted = _renormalise_cells(cells, weights)
    cells, scored = _weigh_cells(cells, effective, achievements)
    matrix = cells.with_columns(
        pl.lit(period.label).alias("period"),
        pl.col("metric").replace_strict(directions, return_dtype=pl.Utf8).alias("direction"),
        pl.col("metric").replace_strict({m: _display(c) for m, c in caps.items()}, return_dtype=DISPLAY).alias("cap"),
        pl.col("weight_idx").replace_strict(dict(enumerate(_display(w) for w in weights)), return_dtype=DISPLAY)
        .alias("weight"),
    )
    scores = _score_employees(plan, period, emps, matrix, scored, counted, weights)
    return matrix.select(list(MATRIX_SCHEMA)).cast(pl.Schema(MATRIX_SCHEMA)), scores.cast(pl.Schema(SCORES_SCHEMA))


def _weight_cells(plan: Plan, emps: pl.DataFrame, actuals: pl.DataFrame, targets: pl.DataFrame
                  ) -> tuple[pl.DataFrame, list[Fraction]]:
    """One row per employee (``employee_idx``) × metric of their weight row (``metric_order``: its order
    there; ``weight_idx``: its weight, an index into the returned list), with the actual and target; sorted
    by (employee_idx, metric_order)."""
    weights: list[Fraction] = []
    rows = []
    for dept, role in emps.select("department", "role").unique(maintain_order=True).iter_rows():
        for order, (metric, weight) in enumerate(plan.weight_row(dept, role).items()):
            rows.append((dept, role, metric, order, len(weights)))
            weights.append(to_fraction(weight))
    skeleton = pl.DataFrame(rows, orient="row", schema={"department": pl.Utf8, "role": pl.Utf8, "metric": pl.Utf8,
                                                        "metric_order": pl.Int64, "weight_idx": pl.Int64})
    cells = (
        emps.select("employee_idx", "employee_id", "department", "role")
        .join(skeleton, on=["department", "role"], how="inner", nulls_equal=True)
        .join(_last_per_pair(actuals, {"actual_num": pl.Decimal(38, 9), "actual_den": pl.Int64(), "detail": pl.Utf8()}),
              on=["employee_id", "metric"], how="left")
        .join(_last_per_pair(targets, {"target": pl.Decimal(38, 9), "target_source": pl.Utf8()}),
              on=["employee_id", "metric"], how="left")
        .sort("employee_idx", "metric_order")
    )
    return cells, weights


def _judge_cells(cells: pl.DataFrame, directions: Mapping[str, str], caps: dict[str, Fraction],
                 policies: dict[str, str]) -> tuple[pl.DataFrame, list[Fraction | None]]:
    """Per distinct (metric, actual, target): the achievement, whether the metric counts and why not.
    Adds actual, target, achievement (display), included, reason, ``target_not_positive``, the exact texts,
    ``when_missing`` and ``judgement_idx`` indexing the returned achievements."""
    cells, judged = _keyed(cells, ["metric", "actual_num", "actual_den", "target"], "judgement_idx")
    acts, tgts, achs, reasons, not_pos, treatments = [], [], [], [], [], []
    for _, metric, num, den, target in judged.iter_rows():
        actual = None
        if num is not None and den is not None and den != 0:
            actual = to_fraction(num) / to_fraction(den)
        tgt = to_fraction(target)
        ach, reason, np_, treatment = _judge(actual, tgt, directions[metric], caps[metric], policies[metric])
        acts.append(actual)
        tgts.append(tgt)
        achs.append(ach)
        reasons.append(reason)
        not_pos.append(np_)
        treatments.append(treatment)
    judged = pl.DataFrame({
        "judgement_idx": judged.get_column("judgement_idx"),
        "actual": _display_series(acts), "target": _display_series(tgts),
        "achievement": _display_series(achs), "included": pl.Series([a is not None for a in achs], dtype=pl.Boolean),
        "reason": pl.Series(reasons, dtype=pl.Utf8), "target_not_positive": pl.Series(not_pos, dtype=pl.Boolean),
        "when_missing": pl.Series(treatments, dtype=pl.Utf8),
        "actual_exact": _text_series(acts), "achievement_exact": _text_series(achs),
    })
    return cells.join(judged, on="judgement_idx", how="left", maintain_order="left"), achs


def _renormalise_cells(cells: pl.DataFrame, weights: list[Fraction]
                       ) -> tuple[pl.DataFrame, list[Fraction], list[bool]]:
    """Per distinct (department, role, metrics kept): the effective weights. Adds ``pattern_idx`` (that
    pattern: an index into the returned flags "the kept weights add up to more than 0") and
    ``effective_weight_idx`` (an index into the returned effective weights)."""
    kept = cells.group_by("employee_idx").agg(
        pl.col("included").sort_by("metric_order").cast(pl.Int8).cast(pl.Utf8).str.join("").alias("kept_pattern"),
        pl.col("weight_idx").sort_by("metric_order").alias("weight_idxs"))
    cells = cells.join(kept, on="employee_idx", how="left", maintain_order="left")
    cells, patterns = _keyed(cells, ["department", "role", "kept_pattern"], "pattern_idx")
    patterns = patterns.join(cells.select("pattern_idx", "weight_idxs").unique("pattern_idx"), on="pattern_idx",
                             how="left", maintain_order="left")
    effective: list[Fraction] = []
    rows, counted = [], []
    for p, _, _, pattern, ws in patterns.select("pattern_idx", "department", "role", "kept_pattern",
                                                "weight_idxs").iter_rows():
        row, total = _effective_weights([weights[w] for w in ws], [c == "1" for c in pattern])
        counted.append(total > 0)
        for order, ew in enumerate(row):
            rows.append((p, order, len(effective)))
            effective.append(ew)
    ews = pl.DataFrame(rows, orient="row",
                       schema={"pattern_idx": pl.UInt32, "metric_order": pl.Int64, "effective_weight_idx": pl.Int64})
    cells = cells.drop("weight_idxs").join(ews, on=["pattern_idx", "metric_order"], how="left", maintain_order="left")
    return cells, effective, counted


def _weigh_cells(cells: pl.DataFrame, effective: list[Fraction], achievements: list[Fraction | None]
                 ) -> tuple[pl.DataFrame, list[Fraction | None]]:
    """Per distinct (effective weight, achievement): the weighted score (None when the metric is removed).
    Adds effective_weight, weighted_score (display and exact) and ``score_idx`` indexing the returned scores."""
    cells, products = _keyed(cells.with_columns(judgement_idx=pl.when("included").then("judgement_idx")),
                             ["effective_weight_idx", "judgement_idx"], "score_idx")
    scored = [None if k is None else effective[ew] * achievements[k]
              for _, ew, k in products.iter_rows()]
    return cells.join(
        pl.DataFrame({"score_idx": products.get_column("score_idx"), "weighted_score": _display_series(scored),
                      "weighted_score_exact": _text_series(scored)}), on="score_idx", how="left", maintain_order="left",
    ).join(
        pl.DataFrame({"effective_weight_idx": range(len(effective)), "effective_weight": _display_series(effective),
                      "effective_weight_exact": _text_series(effective)},
                     schema_overrides={"effective_weight_idx": pl.Int64}),
        on="effective_weight_idx", how="left", maintain_order="left",
    ), scored


def _score_employees(plan: Plan, period: Period, emps: pl.DataFrame, matrix: pl.DataFrame,
                     scored: list[Fraction | None], counted: list[bool], weights: list[Fraction]) -> pl.DataFrame:
    """Per employee: composite, multiplier and bonus (the only arithmetic done once per employee); a held
    employee (a missing metric whose policy is `hold`) gets multiplier 0, so bonus 0."""
    per_emp = matrix.group_by("employee_idx").agg(
        pl.col("score_idx").filter("included").alias("score_idxs"),
        pl.col("pattern_idx").first(),
        pl.struct("metric", "reason", "target_not_positive", "when_missing", "weight_idx")
        .filter(pl.col("reason").is_not_null()).alias("removed_metrics"),
    )
    emps = emps.join(per_emp, on="employee_idx", how="left", maintain_order="left")
    share, curve = period.share, _prepared_curve(plan.payout_curve)
    composites, multipliers, incompletes, why, bonuses, policies = [], [], [], [], [], []
    for p, s_ids, removed, bonus_target, fte_days, days in emps.select(
        "pattern_idx", "score_idxs", "removed_metrics", "bonus_target", "fte_days", "days_in_period"
    ).iter_rows():
        if p is None:  # no weight row
            parts, counts, s_ids = ["no weight row"], False, []
        else:
            parts = [_removal_text(r["metric"], r["reason"], r["target_not_positive"], r["when_missing"])
                     for r in removed]
            counts = counted[p]
        composite, multiplier, incomplete, reason = _finish_employee(
            curve, (scored[s] for s in s_ids), counts, parts)
        held = any(r["when_missing"] == HOLD for r in removed or ())
        if held:
            multiplier, reason = Fraction(0), _finish_reason(reason, True)
        policies.append(missing_policy_text((r["when_missing"], weights[r["weight_idx"]]) for r in removed or ()))
        days = period.days if days is None else int(days)
        bonus = (compute_bonus(bonus_target, share, fte_days, days, multiplier)
                 if bonus_target is not None and fte_days is not None else None)
        composites.append(composite)
        multipliers.append(multiplier)
        incompletes.append(incomplete)
        why.append(reason)
        bonuses.append(bonus)
    return emps.select(
        pl.lit(period.label).alias("period"), "employee_id", "department", "role",
        composite=_display_series(composites), payout_multiplier=_display_series(multipliers),
        incomplete=pl.Series(incompletes, dtype=pl.Boolean), incomplete_reason=pl.Series(why, dtype=pl.Utf8),
        missing_policy=pl.Series(policies, dtype=pl.Utf8), composite_exact=_text_series(composites), multiplier_exact=_text_series(multipliers),
        bonus_target=pl.col("bonus_target"), fte_days=pl.col("fte_days"),
        days_in_period=pl.col("days_in_period").fill_null(period.days),
        period_share=pl.lit(exact_text(share)), bonus_amount=pl.Series(bonuses, dtype=MONEY),
        currency=pl.col("currency"), full_name=pl.col("full_name"),
    )
