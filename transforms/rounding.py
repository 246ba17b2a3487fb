"""Half-up rounding: the one rule for every money amount and every displayed figure.

Half-up is Python's ``decimal.ROUND_HALF_UP``: to the nearest, a half away from zero
(2.5 -> 3, -2.5 -> -3), so a value and its negation always round to opposite numbers.
Everything is exact integer arithmetic — no float, no Decimal context that could round
before the rounding — and every rounding in Orbit goes through :func:`half_up` (or its
vectorised twin :func:`half_up_expr`, checked equal to it).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl


def half_up(num: int, den: int) -> int:
    """``num / den`` (``den`` > 0) rounded to an integer, a half away from zero."""
    if den <= 0:
        raise ValueError(f"the denominator must be positive, got {den}")
    magnitude = (2 * abs(num) + den) // (2 * den)
    return -magnitude if num < 0 else magnitude


def round_ratio(num: int, den: int, places: int) -> Decimal:
    """``num / den`` (``den`` > 0) rounded half-up to ``places`` (>= 0) decimals, exactly."""
    if places < 0:
        raise ValueError(f"places must be >= 0, got {places}")
    return Decimal(f"{half_up(num * 10**places, den)}E-{places}")


def round_half_up(value: Fraction | Decimal | int, places: int) -> Decimal:
    """An exact value (a Decimal converts exactly) rounded half-up to ``places`` decimals."""
    if isinstance(value, Decimal):
        value = Fraction(value)
    return round_ratio(value.numerator, value.denominator, places)


def half_up_expr(num: pl.Expr, den: pl.Expr | int) -> pl.Expr:
    """:func:`half_up` of integer columns (``den`` > 0), row by row, in polars."""
    magnitude = (2 * num.abs() + den) // (2 * den)
    return pl.when(num < 0).then(0 - magnitude).otherwise(magnitude)  # 0 - x: polars has no negation of Int128
