"""The five heuristic models (last_touch, first_touch, linear, position_based, time_decay):
integer weights per touch, summed per employee."""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Context, Decimal
from fractions import Fraction

import numpy as np
import polars as pl

from transforms.attribution.common import TOUCH_ORDER, values_frame

#: time_decay weights are fixed to this integer scale (relative to the latest touch, whose weight is 1).
DECAY_SCALE = 10**20
_DECAY_CONTEXT = Context(prec=60)
_LN2 = Decimal(2).ln(Context(prec=70))
_DECAY_BITS = 160  # fixed-point fraction bits of the decay factors (~48 decimal digits)
_DECAY_BASE = 1000


def decay_weights(deltas_us: np.ndarray, half_life_days: Decimal) -> np.ndarray:
    """round(2^(-delta / half_life) * DECAY_SCALE) for each touch age delta (int64 microseconds).

    delta is written in base 1000 (delta = sum d_j 1000^j), so the weight is the
    product over j of 2^(-d_j 1000^j / half_life). Each factor comes from a table
    computed with Decimal at 60 digits and held as a fixed-point integer with
    ``_DECAY_BITS`` fraction bits; the product is carried in exact integers (numpy
    object arrays), so the result is the same on every platform. Returns an
    object array of Python ints.
    """
    ctx = _DECAY_CONTEXT
    hl_us = ctx.multiply(Decimal(half_life_days), Decimal(86_400_000_000))
    if hl_us <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    deltas = np.asarray(deltas_us, dtype=np.int64)
    if len(deltas) == 0:
        return np.empty(0, dtype=object)
    if int(deltas.min()) < 0:
        raise ValueError("negative touch age")
    one = 1 << _DECAY_BITS
    unit = Decimal(one)
    acc = np.full(len(deltas), one, dtype=object)
    rest = deltas.copy()
    level = 0
    while rest.any():
        digits = rest % _DECAY_BASE
        rest //= _DECAY_BASE
        table = np.full(_DECAY_BASE, one, dtype=object)
        for d in np.unique(digits).tolist():
            if d:
                exponent = ctx.divide(Decimal(d * _DECAY_BASE**level), hl_us)
                factor = ctx.exp(ctx.minus(ctx.multiply(exponent, _LN2)))
                table[d] = int(ctx.multiply(factor, unit).to_integral_value(rounding=ROUND_FLOOR))
        acc = (acc * table[digits]) >> _DECAY_BITS
        level += 1
    half = 1 << (_DECAY_BITS - 1)
    return (acc * DECAY_SCALE + half) >> _DECAY_BITS


def position_fractions(first: Decimal, last: Decimal) -> tuple[int, int, int]:
    """(a, b, d) with first = a/d and last = b/d exactly."""
    f, l = Fraction(Decimal(first)), Fraction(Decimal(last))
    if f < 0 or l < 0 or f + l > 1 or f + l == 0:
        raise ValueError(f"position_based needs first, last >= 0 and 0 < first + last <= 1, got {first}, {last}")
    d = math.lcm(f.denominator, l.denominator)
    return int(f * d), int(l * d), d


def touch_weights(
    touches: pl.LazyFrame, model: str, position: tuple[int, int, int], half_life: Decimal
) -> pl.DataFrame:
    """Per touch integer weight ``num`` (Int128) for a heuristic model; touches sorted, with idx/n."""
    idx, n = pl.col("idx"), pl.col("n")
    t = touches.sort(TOUCH_ORDER).with_columns(
        idx=pl.int_range(pl.len(), dtype=pl.Int64).over("opportunity_id"),
        n=pl.len().over("opportunity_id").cast(pl.Int64),
    )
    if model == "last_touch":
        num = (idx == n - 1).cast(pl.Int128)
    elif model == "first_touch":
        num = (idx == 0).cast(pl.Int128)
    elif model == "linear":
        num = pl.lit(1, dtype=pl.Int128)
    elif model == "position_based":
        a, b, d = (pl.lit(v, dtype=pl.Int128) for v in position)
        n128 = n.cast(pl.Int128)
        num = (
            pl.when(n == 1)
            .then(pl.lit(1, dtype=pl.Int128))
            .when(n == 2)
            .then(pl.when(idx == 0).then(a).otherwise(b))
            .when(idx == 0)
            .then(a * (n128 - 2))
            .when(idx == n - 1)
            .then(b * (n128 - 2))
            .otherwise(d - a - b)
        )
    elif model == "time_decay":
        t = t.with_columns(
            delta=(pl.col("occurred_at").max().over("opportunity_id") - pl.col("occurred_at")).dt.total_microseconds()
        ).collect().lazy()
        deltas = t.select(pl.col("delta").unique().sort()).collect().get_column("delta")
        mapping = pl.DataFrame(
            {"delta": deltas, "num": pl.Series(decay_weights(deltas.to_numpy(), half_life).tolist(), dtype=pl.Int128)}
        )
        return t.join(mapping.lazy(), on="delta", how="left").drop("delta").collect()
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(model)
    return t.with_columns(num=num).collect()


def employee_weights(touch_weights: pl.DataFrame) -> pl.DataFrame:
    """Sum touch weights per (opportunity, employee); pick the employee's department.

    The department is the one through which the employee earned the most
    weight on that opportunity, ties by their latest touch.
    """
    return (
        touch_weights.lazy()
        .group_by("opportunity_id", "employee_id", "department")
        .agg(dnum=pl.col("num").sum(), drank=pl.col("idx").max(), cents=pl.col("cents").first())
        .group_by("opportunity_id", "employee_id")
        .agg(
            num=pl.col("dnum").sum(),
            department=pl.col("department").sort_by(["dnum", "drank"], descending=[True, True]).first(),
            cents=pl.col("cents").first(),
        )
        .filter(pl.col("num") > 0)
        .with_columns(den=pl.col("num").sum().over("opportunity_id"))
        .sort("opportunity_id", "employee_id")
        .collect()
    )


def credited_share_values(rows: pl.DataFrame, model: str) -> pl.DataFrame:
    """Heuristic department values: each department's share of the total credited amount (0 if the total is 0)."""
    total = int(rows["credit_cents"].sum()) if rows.height else 0
    per = rows.group_by("department").agg(pl.col("credit_cents").sum()).rows()
    return values_frame({d: Fraction(c, total) if total else Fraction(0) for d, c in per}, model)
