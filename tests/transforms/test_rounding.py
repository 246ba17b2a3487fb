"""The one half-up rounding (transforms.rounding): a half goes away from zero, as decimal.ROUND_HALF_UP."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.rounding import half_up, half_up_expr, round_half_up, round_ratio

ints = st.integers(min_value=-(10**30), max_value=10**30)
dens = st.integers(min_value=1, max_value=10**15)
places = st.integers(min_value=0, max_value=14)


def _reference(value: Fraction, places: int) -> Decimal:
    """Python's decimal module, where the division is exact (denominators 2^a 5^b)."""
    with localcontext(Context(prec=200)):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@given(ints, st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=20), places)
def test_it_is_decimal_round_half_up(num, twos, fives, p):
    value = Fraction(num, 2**twos * 5**fives)
    got = round_half_up(value, p)
    assert got == _reference(value, p)
    assert got.as_tuple().exponent == -p or got == 0


@given(ints, dens)
def test_half_up_is_the_nearest_integer_halves_away_from_zero(num, den):
    n = half_up(num, den)
    x = Fraction(num, den)
    assert abs(x - n) <= Fraction(1, 2)
    if abs(x - n) == Fraction(1, 2):  # a tie: away from zero
        assert abs(n) > abs(x)
    assert half_up(-num, den) == -n  # symmetric


def test_a_negative_half_rounds_away_from_zero():
    # the two copies this replaced disagreed: -1E-12 in scoring, 0E-12 in attribution
    assert round_half_up(Fraction(-1, 2 * 10**12), 12) == Decimal("-1E-12")
    assert round_half_up(Fraction(1, 2 * 10**12), 12) == Decimal("1E-12")
    assert round_half_up(Fraction(-5, 1000), 2) == Decimal("-0.01")
    assert round_half_up(Fraction(-4999, 1000000), 2) == Decimal("0.00")
    assert round_ratio(2631, 1, 2) == Decimal("2631.00")
    assert str(round_half_up(Fraction(1, 3), 12)) == "0.333333333333"


def test_no_context_rounds_first():
    big = Fraction(10**40 + 1, 2)  # 40 digits and a half: more than a default Decimal context (28) holds
    assert str(round_half_up(big, 2)) == "5" + "0" * 39 + ".50"
    assert round_half_up(big, 0) == Decimal(10**40 // 2 + 1)
    assert round_half_up(-big, 0) == Decimal(-(10**40 // 2 + 1))  # (unary minus on a Decimal would round)


def test_bad_denominators_and_places_are_refused():
    with pytest.raises(ValueError):
        half_up(1, 0)
    with pytest.raises(ValueError):
        round_ratio(1, 2, -1)


@given(st.lists(st.tuples(st.integers(-(10**12), 10**12), st.integers(1, 10**12)), min_size=1, max_size=50))
def test_the_polars_expression_is_the_same_rule(pairs):
    frame = pl.DataFrame(pairs, schema={"num": pl.Int64, "den": pl.Int64}, orient="row")
    got = frame.select(half_up_expr(pl.col("num").cast(pl.Int128), pl.col("den").cast(pl.Int128))).to_series()
    assert got.to_list() == [half_up(n, d) for n, d in pairs]


def test_department_values_and_scores_round_a_negative_half_alike():
    from transforms.attribution.common import values_frame
    from transforms.scoring import _display

    tie = Fraction(-1, 2 * 10**12)
    assert values_frame({"sales": tie}, "shapley")["value"].to_list() == [Decimal("-1E-12")] == [_display(tie)]
