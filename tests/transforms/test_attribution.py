"""Tests for transforms.attribution: touches, every model, the exact games and the cent allocation."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from decimal import Context, Decimal
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.attribution import (
    CREDITS_SCHEMA,
    DEPARTMENT_VALUES_SCHEMA,
    MODELS,
    TOUCH_FRAME_COLUMNS,
    allocate_cents,
    attribute_credits,
    build_touches,
    markov_removal_effects,
    shapley_values,
)
from transforms.attribution.cents import allocate_python, allocate_vectorised
from transforms.attribution.games import game_department_weights, game_split
from transforms.attribution.heuristic import DECAY_SCALE, decay_weights

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # a convenient closing instant
D = Decimal


def day(n: float) -> dt.datetime:
    """T0 minus n days."""
    return T0 - dt.timedelta(days=n)


def opps_frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (opportunity_id, stage, amount, owner_employee_id, closed_at)."""
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]
    n = len(rows)
    return pl.DataFrame(
        {
            "opportunity_id": list(cols[0]),
            "customer_id": ["c1"] * n,
            "created_at": [day(400)] * n,
            "stage": list(cols[1]),
            "amount": [D(a) for a in cols[2]],
            "currency": ["EUR"] * n,
            "owner_employee_id": list(cols[3]),
            "source": ["inbound"] * n,
            "closed_at": list(cols[4]),
        },
        schema={
            "opportunity_id": pl.Utf8,
            "customer_id": pl.Utf8,
            "created_at": pl.Datetime("us", "UTC"),
            "stage": pl.Utf8,
            "amount": pl.Decimal(18, 2),
            "currency": pl.Utf8,
            "owner_employee_id": pl.Utf8,
            "source": pl.Utf8,
            "closed_at": pl.Datetime("us", "UTC"),
        },
    )


def acts_frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (event_id, opportunity_id, employee_id, department, occurred_at)."""
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]
    n = len(rows)
    return pl.DataFrame(
        {
            "event_id": list(cols[0]),
            "occurred_at": list(cols[4]),
            "employee_id": list(cols[2]),
            "department": list(cols[3]),
            "activity_type": ["meeting_held"] * n,
            "customer_id": ["c1"] * n,
            "opportunity_id": list(cols[1]),
            "quantity": [None] * n,
            "value": [None] * n,
        },
        schema={
            "event_id": pl.Utf8,
            "occurred_at": pl.Datetime("us", "UTC"),
            "employee_id": pl.Utf8,
            "department": pl.Utf8,
            "activity_type": pl.Utf8,
            "customer_id": pl.Utf8,
            "opportunity_id": pl.Utf8,
            "quantity": pl.Decimal(38, 9),
            "value": pl.Decimal(38, 9),
        },
    )


def run(opps: pl.DataFrame, acts: pl.DataFrame, model: str, lookback: int = 180, **kw):
    return attribute_credits(opps, build_touches(opps, acts, lookback), model=model, **kw)


def credit_map(credits: pl.DataFrame, opp: str | None = None) -> dict[str, Decimal]:
    rows = credits if opp is None else credits.filter(pl.col("opportunity_id") == opp)
    return dict(zip(rows["employee_id"].to_list(), rows["credit"].to_list()))


def dept_map(credits: pl.DataFrame) -> dict[str, str]:
    return dict(zip(credits["employee_id"].to_list(), credits["department"].to_list()))


def values_map(values: pl.DataFrame) -> dict[str, Decimal]:
    return dict(zip(values["department"].to_list(), values["value"].to_list()))


def q12(x: Fraction) -> Decimal:
    """A Fraction rounded half-up to 12 decimals, as published."""
    return Decimal((2 * x.numerator * 10**12 + x.denominator) // (2 * x.denominator)).scaleb(-12)


# One won opportunity of 100.00 with three touches, oldest first:
#   e1 day-28 m1 marketing, e2 day-14 s1 sales, e3 day-0 l1 logistics
THREE = opps_frame([("o1", "won", "100.00", "s1", T0)])
THREE_ACTS = acts_frame(
    [
        ("e1", "o1", "m1", "marketing", day(28)),
        ("e2", "o1", "s1", "sales", day(14)),
        ("e3", "o1", "l1", "logistics", day(0)),
    ]
)


# ---------------------------------------------------------------------------
# build_touches
# ---------------------------------------------------------------------------
def test_build_touches_window_is_inclusive_and_outside_touches_are_ignored():
    opps = opps_frame(
        [
            ("o1", "won", "10.00", "s1", T0),
            ("o2", "lost", "5.00", "s1", T0),
            ("o3", "open", "7.00", "s1", None),
        ]
    )
    acts = acts_frame(
        [
            ("a_edge_old", "o1", "m1", "marketing", day(30)),  # exactly closed_at - 30 days: in
            ("a_too_old", "o1", "m1", "marketing", day(30) - dt.timedelta(microseconds=1)),  # 1 us too old
            ("a_edge_new", "o1", "s1", "sales", T0),  # exactly closed_at: in
            ("a_after", "o1", "s1", "sales", T0 + dt.timedelta(microseconds=1)),  # after closing: out
            ("a_lost", "o2", "f1", "finance", day(1)),  # lost opportunities have touches too
            ("a_open", "o3", "f1", "finance", day(1)),  # open: out
            ("a_none", None, "f1", "finance", day(1)),  # no opportunity: out
            ("a_orphan", "o9", "f1", "finance", day(1)),  # unknown opportunity: out
        ]
    )
    t = build_touches(opps, acts, 30)
    assert t.columns == list(TOUCH_FRAME_COLUMNS)
    assert t["event_id"].to_list() == ["a_edge_old", "a_edge_new", "a_lost"]
    assert t.schema["amount"] == pl.Decimal(18, 2)
    assert t.schema["occurred_at"] == pl.Datetime("us", "UTC")
    assert t.filter(pl.col("event_id") == "a_lost")["stage"].to_list() == ["lost"]


def test_build_touches_lookback_zero_keeps_only_the_closing_instant():
    acts = THREE_ACTS.vstack(acts_frame([("e4", "o1", "x1", "hr", T0)]))
    assert build_touches(THREE, acts, 0)["event_id"].to_list() == ["e3", "e4"]


def test_touches_outside_lookback_get_no_credit():
    # lookback 20 days drops e1 (28 days before closing): linear over e2, e3 only.
    credits, _ = run(THREE, THREE_ACTS, "linear", lookback=20)
    assert credit_map(credits) == {"s1": D("50.00"), "l1": D("50.00")}


def test_build_touches_sorted_by_occurrence_then_event_id():
    acts = acts_frame(
        [
            ("b", "o1", "x", "sales", day(1)),
            ("a", "o1", "y", "sales", day(1)),
            ("c", "o1", "z", "sales", day(2)),
        ]
    )
    assert build_touches(THREE, acts, 10)["event_id"].to_list() == ["c", "a", "b"]


# ---------------------------------------------------------------------------
# Heuristic models, by hand
# ---------------------------------------------------------------------------
def test_last_touch_by_hand():
    credits, values = run(THREE, THREE_ACTS, "last_touch")
    assert credit_map(credits) == {"l1": D("100.00")}
    assert credits["share"].to_list() == [D("1")]
    assert values_map(values) == {"logistics": D("1")}


def test_first_touch_by_hand():
    credits, _ = run(THREE, THREE_ACTS, "first_touch")
    assert credit_map(credits) == {"m1": D("100.00")}
    assert dept_map(credits) == {"m1": "marketing"}


def test_linear_by_hand_ties_by_employee_id():
    # 100.00 / 3 = 33.333...: floors 33.33 each, 1 cent left, equal remainders -> smallest employee_id (l1).
    credits, values = run(THREE, THREE_ACTS, "linear")
    assert credit_map(credits) == {"l1": D("33.34"), "m1": D("33.33"), "s1": D("33.33")}
    assert set(credits["share"].to_list()) == {D("0.333333333333")}
    # department values: credited amount / total
    assert values_map(values) == {"logistics": D("0.3334"), "marketing": D("0.3333"), "sales": D("0.3333")}


def test_linear_sums_touches_per_employee():
    # m1 touches twice out of 4 touches: 1/2 of 10.00
    acts = THREE_ACTS.vstack(acts_frame([("e0", "o1", "m1", "marketing", day(40))]))
    credits, _ = run(opps_frame([("o1", "won", "10.00", "s1", T0)]), acts, "linear")
    assert credit_map(credits) == {"m1": D("5.00"), "s1": D("2.50"), "l1": D("2.50")}


def test_position_based_by_hand():
    # 3 touches: first 40%, last 40%, the middle 20%.
    credits, _ = run(THREE, THREE_ACTS, "position_based")
    assert credit_map(credits) == {"m1": D("40.00"), "s1": D("20.00"), "l1": D("40.00")}
    # 4 touches, first 0.3 / last 0.5: middle 0.2 split over two touches -> 0.1 each.
    acts = THREE_ACTS.vstack(acts_frame([("e9", "o1", "h1", "hr", day(20))]))
    credits, _ = run(THREE, acts, "position_based", position_first=D("0.3"), position_last=D("0.5"))
    assert credit_map(credits) == {"m1": D("30.00"), "h1": D("10.00"), "s1": D("10.00"), "l1": D("50.00")}


def test_position_based_one_and_two_touches():
    one, _ = run(THREE, THREE_ACTS.head(1), "position_based", position_first=D("0.3"), position_last=D("0.5"))
    assert credit_map(one) == {"m1": D("100.00")}
    # two touches: first/(first+last) = 0.3/0.8 = 37.5%, last 62.5%
    two, _ = run(THREE, THREE_ACTS.head(2), "position_based", position_first=D("0.3"), position_last=D("0.5"))
    assert credit_map(two) == {"m1": D("37.50"), "s1": D("62.50")}
    assert dict(zip(two["employee_id"], two["share"])) == {"m1": D("0.375"), "s1": D("0.625")}


def test_position_based_first_plus_last_one_leaves_middle_nothing():
    credits, _ = run(THREE, THREE_ACTS, "position_based", position_first=D("0.5"), position_last=D("0.5"))
    assert credit_map(credits) == {"m1": D("50.00"), "l1": D("50.00")}  # zero-share rows are left out


def test_position_based_rejects_bad_shares():
    with pytest.raises(ValueError):
        run(THREE, THREE_ACTS, "position_based", position_first=D("0.7"), position_last=D("0.5"))


def test_time_decay_by_hand():
    # ages 28, 14, 0 days with half-life 14: weights 1/4, 1/2, 1 -> shares 1/7, 2/7, 4/7 of 100.00:
    # 14.2857.., 28.5714.., 57.1428.. -> floors 14.28 + 28.57 + 57.14 = 99.99; the cent left goes to the
    # largest remainder (m1: .57 of a cent vs .14 / .29).
    credits, values = run(THREE, THREE_ACTS, "time_decay", half_life_days=D(14))
    assert credit_map(credits) == {"m1": D("14.29"), "s1": D("28.57"), "l1": D("57.14")}
    shares = dict(zip(credits["employee_id"], credits["share"]))
    assert shares == {"m1": q12(Fraction(1, 7)), "s1": q12(Fraction(2, 7)), "l1": q12(Fraction(4, 7))}
    assert values_map(values)["logistics"] == D("0.5714")


def test_time_decay_fractional_days():
    # ages 0 and 7 days (half-life 14): weights 1 and 2^-0.5 -> share of the older 1/(1+sqrt 2) = 0.41421356..
    acts = acts_frame([("e1", "o1", "a", "sales", day(7)), ("e2", "o1", "b", "sales", day(0))])
    credits, _ = run(opps_frame([("o1", "won", "1000.00", "s1", T0)]), acts, "time_decay")
    assert credit_map(credits) == {"a": D("414.21"), "b": D("585.79")}
    assert dict(zip(credits["employee_id"], credits["share"]))["a"] == D("0.414213562373")


def test_decay_weights_match_direct_high_precision():
    day_us = 86_400_000_000
    # whole half-lives are exact powers of two
    halves = decay_weights(np.array([0, 14 * day_us, 28 * day_us, 42 * day_us]), D(14)).tolist()
    assert halves == [10**20, 5 * 10**19, 25 * 10**18, 125 * 10**17]
    # anything else agrees with a direct 80-digit computation, rounded to the integer scale
    ctx = Context(prec=80)
    ln2 = Decimal(2).ln(ctx)
    rng = random.Random(7)
    deltas = [1, 999, 1000, 123_456_789] + [rng.randrange(0, 10**15) for _ in range(300)]
    hl = D("13.5")
    got = decay_weights(np.array(deltas, dtype=np.int64), hl).tolist()
    for delta, w in zip(deltas, got):
        exact = ctx.exp(-ctx.divide(Decimal(delta), hl * day_us) * ln2) * DECAY_SCALE
        assert abs(Decimal(w) - exact) <= D("0.5000001"), (delta, w, exact)


def test_employee_touching_through_two_departments_gets_the_department_of_most_weight():
    # linear, 4 touches: x touches twice as sales and once as hr -> credited 3/4 in sales.
    acts = acts_frame(
        [
            ("e1", "o1", "x", "hr", day(3)),
            ("e2", "o1", "x", "sales", day(2)),
            ("e3", "o1", "x", "sales", day(1)),
            ("e4", "o1", "y", "finance", day(0)),
        ]
    )
    credits, _ = run(opps_frame([("o1", "won", "8.00", "s1", T0)]), acts, "linear")
    assert credit_map(credits) == {"x": D("6.00"), "y": D("2.00")}
    assert dept_map(credits) == {"x": "sales", "y": "finance"}
    # tie (one touch each): the department of the employee's latest touch
    credits, _ = run(opps_frame([("o1", "won", "8.00", "s1", T0)]), acts.filter(pl.col("event_id") != "e3"), "linear")
    assert dept_map(credits)["x"] == "sales"


# ---------------------------------------------------------------------------
# Owner fallback and output shapes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_won_opportunity_without_touch_credits_its_owner(model):
    opps = opps_frame(
        [
            ("o1", "won", "12.34", "own1", T0),
            ("o2", "won", "5.00", "ghost", T0),
            ("o3", "lost", "9.00", "own1", T0),
            ("o4", "won", "20.00", "own1", T0),
        ]
    )
    acts = acts_frame(
        [
            ("e1", "o1", "m1", "marketing", day(500)),  # outside the lookback: o1 counts as untouched
            ("e2", "o4", "s2", "sales", day(1)),
        ]
    )
    owners = pl.DataFrame({"employee_id": ["own1", "other"], "department": ["sales", "hr"]})
    credits, _ = run(opps, acts, model, owner_departments=owners)
    assert credits.schema == CREDITS_SCHEMA
    rows = {(r["opportunity_id"], r["employee_id"]): r for r in credits.iter_rows(named=True)}
    assert set(rows) == {("o1", "own1"), ("o2", "ghost"), ("o4", "s2")}
    assert rows[("o1", "own1")]["credit"] == D("12.34") and rows[("o1", "own1")]["department"] == "sales"
    assert rows[("o1", "own1")]["share"] == D("1")
    assert rows[("o2", "ghost")]["department"] == "unknown"
    assert set(credits["model"].to_list()) == {model}
    no_owner_frame, _ = run(opps, acts, model)
    assert dept_map(no_owner_frame.filter(pl.col("opportunity_id") == "o1")) == {"own1": "unknown"}


def test_owner_departments_must_be_unique():
    opps = opps_frame([("o1", "won", "1.00", "own1", T0)])
    owners = pl.DataFrame({"employee_id": ["own1", "own1"], "department": ["sales", "hr"]})
    with pytest.raises(ValueError, match="one row per employee"):
        run(opps, acts_frame([]), "linear", owner_departments=owners)


@pytest.mark.parametrize("model", MODELS)
def test_empty_inputs_give_typed_empty_frames(model):
    credits, values = run(opps_frame([]), acts_frame([]), model)
    assert credits.schema == CREDITS_SCHEMA and credits.height == 0
    assert values.schema == DEPARTMENT_VALUES_SCHEMA and values.height == 0


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown attribution model"):
        run(THREE, THREE_ACTS, "u_shaped")


def test_zero_amount_won_opportunity_gets_zero_credits_with_shares():
    credits, _ = run(opps_frame([("o1", "won", "0.00", "s1", T0)]), THREE_ACTS, "linear")
    assert credit_map(credits) == {"l1": D("0"), "m1": D("0"), "s1": D("0")}
    assert credits["share"].to_list() == [D("0.333333333333")] * 3


# ---------------------------------------------------------------------------
# allocate_cents
# ---------------------------------------------------------------------------
def test_allocate_cents_three_equal_ties_by_employee_id():
    got = allocate_cents(D("100.00"), {"b": Fraction(1, 3), "c": Fraction(1, 3), "a": Fraction(1, 3)})
    assert got == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    assert got["a"].as_tuple().exponent == -2


def test_allocate_cents_examples():
    # largest remainders win the spare cents: 0.05 over 1/2, 1/3, 1/6 -> 2.5, 1.67, 0.83 cents
    # floors 2, 1, 0 (3 cents), remainders .5, .67, .83 -> z then y get the 2 spare cents
    assert allocate_cents(D("0.05"), {"x": Fraction(1, 2), "y": Fraction(1, 3), "z": Fraction(1, 6)}) == {
        "x": D("0.02"),
        "y": D("0.02"),
        "z": D("0.01"),
    }
    # weights are normalised by their sum; a zero weight gets nothing
    assert allocate_cents(D("10.00"), {"a": Fraction(3), "b": Fraction(1), "c": Fraction(0)}) == {
        "a": D("7.50"),
        "b": D("2.50"),
        "c": D("0.00"),
    }
    assert allocate_cents(D("0.02"), {"k": Fraction(1), "j": Fraction(1), "i": Fraction(1)}) == {
        "i": D("0.01"),
        "j": D("0.01"),
        "k": D("0.00"),
    }


def test_allocate_cents_rejects_bad_input():
    with pytest.raises(ValueError):
        allocate_cents(D("1.005"), {"a": Fraction(1)})
    with pytest.raises(ValueError):
        allocate_cents(D("1.00"), {"a": Fraction(-1), "b": Fraction(2)})
    with pytest.raises(ValueError):
        allocate_cents(D("1.00"), {"a": Fraction(0)})
    with pytest.raises(ValueError):
        allocate_cents(D("1.00"), {})


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(0, 10**16),
    weights=st.lists(st.fractions(min_value=0, max_value=10, max_denominator=10**6), min_size=1, max_size=8).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_allocate_cents_properties(cents, weights):
    names = [f"e{i}" for i in range(len(weights))]
    w = dict(zip(names, weights))
    got = allocate_cents(Decimal(cents).scaleb(-2), w)
    total = sum(weights)
    assert sum(got.values()) == Decimal(cents).scaleb(-2)
    for k in names:
        exact = Fraction(cents) * w[k] / total  # in cents
        assert math.floor(exact) <= got[k] * 100 <= math.floor(exact) + 1
        assert got[k] >= 0


# ---------------------------------------------------------------------------
# Shapley
# ---------------------------------------------------------------------------
# Departments M (marketing), S (sales), L (logistics); closed opportunities by touching set:
#   {S}: 2 closed, 1 won   {M,S}: 2 closed, 2 won   {L}: 1 closed, 0 won   {S,L}: 1 closed, 1 won
# v(S) = won/closed over the sets inside S (0 when none):
#   v({})=0  v(M)=0 (none)  v(S)=1/2  v(L)=0/1=0
#   v(MS)=(1+2)/(2+2)=3/4  v(ML)=0/1=0  v(SL)=(1+0+1)/(2+1+1)=1/2  v(MSL)=4/6=2/3
# Shapley weights for n=3: |T|=0 -> 1/3, |T|=1 -> 1/6, |T|=2 -> 1/3 (T = coalition joined)
#   phi_M = 1/3*(0-0) + 1/6*(3/4-1/2) + 1/6*(0-0) + 1/3*(2/3-1/2) = 1/24 + 1/18 = 7/72
#   phi_S = 1/3*(1/2) + 1/6*(3/4-0) + 1/6*(1/2-0) + 1/3*(2/3-0) = 12/72+9/72+6/72+16/72 = 43/72
#   phi_L = 1/3*0 + 1/6*(0-0) + 1/6*(1/2-1/2) + 1/3*(2/3-3/4) = -1/36 = -2/72
#   sum = 48/72 = 2/3 = v(MSL)  (efficiency)
SHAPLEY_COUNTS = {
    frozenset({"sales"}): (1, 2),
    frozenset({"marketing", "sales"}): (2, 2),
    frozenset({"logistics"}): (0, 1),
    frozenset({"sales", "logistics"}): (1, 1),
}
SHAPLEY_EXPECTED = {"marketing": Fraction(7, 72), "sales": Fraction(43, 72), "logistics": Fraction(-1, 36)}


def test_shapley_by_hand():
    assert shapley_values(SHAPLEY_COUNTS) == SHAPLEY_EXPECTED


def test_shapley_credits_by_hand():
    # The same game from frames. Credits of the won opportunities, split over departments by max(phi, 0):
    #   w_ms {M: m1, S: s1, s2}, 100.00: M 7/50 = 14.00, S 43/50 = 86.00 -> s1, s2 43.00 each
    #   w_sl {S: s3, L: l1}, 10.00: L has phi < 0 -> weight 0 -> S 100%
    #   w_s1 {S: s4}: 5.00 all to s4
    rows, acts, n = [], [], itertools.count()

    def opp(oid, stage, amount, touches):
        rows.append((oid, stage, amount, "own", T0))
        for emp, dept in touches:
            acts.append((f"e{next(n):03d}", oid, emp, dept, day(1 + len(acts) % 5)))

    opp("w_s1", "won", "5.00", [("s4", "sales")])
    opp("l_s1", "lost", "1.00", [("s4", "sales")])
    opp("w_ms", "won", "100.00", [("m1", "marketing"), ("s1", "sales"), ("s2", "sales")])
    opp("w_ms2", "won", "0.00", [("m1", "marketing"), ("s1", "sales")])
    opp("l_l", "lost", "3.00", [("l1", "logistics")])
    opp("w_sl", "won", "10.00", [("s3", "sales"), ("l1", "logistics")])
    opps = opps_frame(rows)
    credits, values = run(opps, acts_frame(acts), "shapley")
    assert values_map(values) == {d: q12(v) for d, v in SHAPLEY_EXPECTED.items()}
    assert values["model"].to_list() == ["shapley"] * 3
    assert credit_map(credits, "w_ms") == {"m1": D("14.00"), "s1": D("43.00"), "s2": D("43.00")}
    w_ms = credits.filter(pl.col("opportunity_id") == "w_ms")
    assert dict(zip(w_ms["employee_id"], w_ms["share"])) == {
        "m1": D("0.14"),
        "s1": D("0.43"),
        "s2": D("0.43"),
    }
    assert credit_map(credits, "w_sl") == {"s3": D("10.00")}
    assert credit_map(credits, "w_s1") == {"s4": D("5.00")}


def test_shapley_nothing_won_gives_zero_values():
    # Nothing won: v = 0 everywhere, every phi = 0.
    counts = {frozenset({"a", "b"}): (0, 3)}
    assert shapley_values(counts) == {"a": 0, "b": 0}
    opps = opps_frame([("o1", "lost", "1.00", "x", T0)])
    acts = acts_frame([("e1", "o1", "a1", "a", day(1)), ("e2", "o1", "b1", "b", day(1))])
    credits, values = run(opps, acts, "shapley")
    assert credits.height == 0 and set(values["value"].to_list()) == {D(0)}


def test_game_split_is_equal_when_present_departments_are_all_nonpositive():
    # phi_l < 0 and l alone on a won opportunity: equal split over l's employees (34/33/33 cents, ties by id).
    dw = game_department_weights({"l": Fraction(-1, 3), "s": Fraction(1, 2)})
    assert dw == {"l": 0, "s": 1}
    touches = pl.DataFrame(
        {
            "opportunity_id": ["o"] * 3,
            "department": ["l"] * 3,
            "employee_id": ["a", "b", "c"],
            "idx": [0, 1, 2],
            "cents": [100] * 3,
        }
    )
    rows = game_split(touches, dw)
    assert dict(zip(rows["employee_id"], rows["credit_cents"])) == {"a": 34, "b": 33, "c": 33}


def brute_shapley(counts: dict[frozenset[str], tuple[int, int]], players: list[str]) -> dict[str, Fraction]:
    def v(s: frozenset[str]) -> Fraction:
        won = sum(w for t, (w, _) in counts.items() if t and t <= s)
        closed = sum(c for t, (_, c) in counts.items() if t and t <= s)
        return Fraction(won, closed) if closed else Fraction(0)

    n = len(players)
    out = {}
    for p in players:
        others = [q for q in players if q != p]
        total = Fraction(0)
        for k in range(n):
            for s in itertools.combinations(others, k):
                s = frozenset(s)
                weight = Fraction(math.factorial(k) * math.factorial(n - k - 1), math.factorial(n))
                total += weight * (v(s | {p}) - v(s))
        out[p] = total
    return out


@st.composite
def games(draw, max_players: int = 5):
    players = [f"d{i}" for i in range(draw(st.integers(1, max_players)))]
    counts: dict[frozenset[str], tuple[int, int]] = {}
    for _ in range(draw(st.integers(0, 10))):
        s = frozenset(draw(st.lists(st.sampled_from(players), min_size=1, max_size=len(players))))
        closed = draw(st.integers(1, 6))
        won = draw(st.integers(0, closed))
        w0, c0 = counts.get(s, (0, 0))
        counts[s] = (w0 + won, c0 + closed)
    return players, counts


@settings(max_examples=80, deadline=None)
@given(games())
def test_shapley_matches_brute_force_and_is_efficient(game):
    players, counts = game
    phi = shapley_values(counts, players=players)
    assert phi == brute_shapley(counts, players)
    won = sum(w for w, _ in counts.values())
    closed = sum(c for _, c in counts.values())
    assert sum(phi.values()) == (Fraction(won, closed) if closed else 0)  # efficiency: sum phi = v(N)


@settings(max_examples=60, deadline=None)
@given(games(max_players=4))
def test_shapley_symmetry(game):
    # Make "x" and "y" interchangeable: every coalition also appears with x and y swapped.
    players, counts = game
    players = players + ["x", "y"]
    swap = {"x": "y", "y": "x"}
    sym: dict[frozenset[str], tuple[int, int]] = {}
    items = list(counts.items()) + [(s | {"x"}, wc) for s, wc in counts.items()] + [(frozenset({"y", "d0"}), (1, 2))]
    for s, (w, c) in items:
        for t in {s, frozenset(swap.get(d, d) for d in s)}:
            w0, c0 = sym.get(t, (0, 0))
            sym[t] = (w0 + w, c0 + c)
    phi = shapley_values(sym, players=players)
    assert phi["x"] == phi["y"]


@settings(max_examples=60, deadline=None)
@given(games(max_players=4), st.integers(1, 5), st.integers(1, 5), st.data())
def test_shapley_null_player(game, won_per, lost_per, data):
    # Every coalition has the same win rate, and "z" only ever joins a coalition that also occurs without it:
    # adding z to any S never changes the win rate, so phi_z = 0.
    players, counts = game
    rated = {s: (won_per * c, (won_per + lost_per) * c) for s, (_, c) in counts.items()}
    for s in list(rated):
        if data.draw(st.booleans()):
            rated[s | {"z"}] = rated[s]
    phi = shapley_values(rated, players=players + ["z"])
    assert phi["z"] == 0


def test_shapley_twenty_departments_is_exact_and_quick():
    rng = random.Random(11)
    players = [f"d{i:02d}" for i in range(20)]
    counts: dict[frozenset[str], tuple[int, int]] = {}
    for _ in range(400):
        s = frozenset(rng.sample(players, rng.randint(1, 5)))
        c = rng.randint(1, 4)
        w0, c0 = counts.get(s, (0, 0))
        counts[s] = (w0 + rng.randint(0, c), c0 + c)
    phi = shapley_values(counts)
    assert len(phi) == 20
    won = sum(w for w, _ in counts.values())
    closed = sum(c for _, c in counts.values())
    assert sum(phi.values()) == Fraction(won, closed)


def test_shapley_ignores_empty_coalitions_and_names_silent_players():
    phi = shapley_values({frozenset(): (5, 5), frozenset({"a"}): (1, 2)}, players=["b"])
    assert phi == {"a": Fraction(1, 2), "b": 0}


# ---------------------------------------------------------------------------
# Markov
# ---------------------------------------------------------------------------
# Paths over A, B, C:  [A,B] converts, [A,C] null, [B] converts, [C] null.
# Transitions: start->A 2/4, start->B 1/4, start->C 1/4; A->B 1/2, A->C 1/2; B->conv 1; C->null 1.
#   P(B)=1, P(C)=0, P(A)=1/2*1+1/2*0=1/2, P(start)=2/4*1/2+1/4*1+1/4*0 = 1/2
#   without A (start->A goes to null): 1/4*1 = 1/4 -> removal effect 1 - (1/4)/(1/2) = 1/2
#   without B: P(A)=0, P=0 -> 1;   without C: P unchanged 1/2 -> 0
MARKOV_PATHS = [(["A", "B"], True), (["A", "C"], False), (["B"], True), (["C"], False)]


def test_markov_by_hand():
    assert markov_removal_effects(MARKOV_PATHS) == {"A": Fraction(1, 2), "B": Fraction(1), "C": Fraction(0)}


def test_markov_by_hand_with_a_cycle():
    # [A,B,A] converts, [B] null. start->A 1/2, start->B 1/2; A->B 1/2, A->conv 1/2; B->A 1/2, B->null 1/2.
    #   P(A) = 1/2 P(B) + 1/2, P(B) = 1/2 P(A) -> P(A) = 2/3, P(B) = 1/3; P = 1/2(2/3 + 1/3) = 1/2
    #   without A: P(B) = 0 -> P = 0 -> effect 1
    #   without B: P(A) = 1/2 -> P = 1/4 -> effect 1/2
    assert markov_removal_effects([(["A", "B", "A"], True), (["B"], False)]) == {"A": 1, "B": Fraction(1, 2)}


def test_markov_nothing_converts_gives_zero_effects():
    assert markov_removal_effects([(["A"], False), (["A", "B"], False), ([], True)]) == {"A": 0, "B": 0}


def test_markov_credits_by_hand():
    # The paths above as opportunities. Won [A,B] of 90.00: weights A 1/2, B 1 -> A 30.00, B 60.00.
    opps = opps_frame(
        [
            ("o_ab", "won", "90.00", "own", T0),
            ("o_ac", "lost", "1.00", "own", T0),
            ("o_b", "won", "7.00", "own", T0),
            ("o_c", "lost", "1.00", "own", T0),
        ]
    )
    acts = acts_frame(
        [
            ("e1", "o_ab", "a1", "A", day(3)),
            ("e2", "o_ab", "b1", "B", day(2)),
            ("e3", "o_ac", "a1", "A", day(3)),
            ("e4", "o_ac", "c1", "C", day(2)),
            ("e5", "o_b", "b2", "B", day(3)),
            ("e6", "o_c", "c1", "C", day(3)),
        ]
    )
    credits, values = run(opps, acts, "markov")
    assert values_map(values) == {"A": D("0.5"), "B": D("1"), "C": D("0")}
    assert credit_map(credits, "o_ab") == {"a1": D("30.00"), "b1": D("60.00")}
    assert credit_map(credits, "o_b") == {"b2": D("7.00")}


@st.composite
def markov_paths(draw):
    depts = ["A", "B", "C", "D"][: draw(st.integers(1, 4))]
    return draw(
        st.lists(
            st.tuples(st.lists(st.sampled_from(depts), min_size=1, max_size=5), st.booleans()), min_size=1, max_size=12
        )
    )


@settings(max_examples=80, deadline=None)
@given(markov_paths())
def test_markov_matches_float_solution(paths):
    effects = markov_removal_effects(paths)
    states = sorted({d for p, _ in paths for d in p})
    assert set(effects) == set(states)

    def prob(removed):
        idx = {s: i for i, s in enumerate([None] + [s for s in states if s != removed])}
        n = len(idx)
        counts: dict = {}
        for p, conv in paths:
            seq = [None, *p]
            for a, b in zip(seq, seq[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
            counts[(p[-1], "conv" if conv else "null")] = counts.get((p[-1], "conv" if conv else "null"), 0) + 1
        out: dict = {}
        for (a, _), k in counts.items():
            out[a] = out.get(a, 0) + k
        m = np.eye(n)
        rhs = np.zeros(n)
        for (a, b), k in counts.items():
            if a not in idx:
                continue
            if b == "conv":
                rhs[idx[a]] += k / out[a]
            elif b in idx:
                m[idx[a], idx[b]] -= k / out[a]
        return np.linalg.solve(m, rhs)[0]

    base = prob(None)
    for s in states:
        expected = 0.0 if base == 0 else 1 - prob(s) / base
        assert abs(float(effects[s]) - expected) < 1e-9
        assert 0 <= effects[s] <= 1


# ---------------------------------------------------------------------------
# Properties of every model over random data
# ---------------------------------------------------------------------------
EMPLOYEES = ["e1", "e2", "e3", "e4", "e5"]
DEPARTMENTS = ["sales", "marketing", "logistics", "finance"]


@st.composite
def batches(draw):
    n_opps = draw(st.integers(1, 6))
    big = draw(st.booleans())
    opp_rows, act_rows = [], []
    event = itertools.count()
    for i in range(n_opps):
        cents = draw(st.integers(0, 10**17 if big else 10**7))
        closed = T0 - dt.timedelta(days=draw(st.integers(0, 3)))
        stage = draw(st.sampled_from(["won", "won", "lost", "open"]))
        owner = draw(st.sampled_from(EMPLOYEES))
        amount = str(Decimal(cents).scaleb(-2))
        opp_rows.append((f"o{i}", stage, amount, owner, None if stage == "open" else closed))
        for _ in range(draw(st.integers(0, 5))):
            age = draw(st.integers(-2 * 86_400_000_000, 60 * 86_400_000_000))
            act_rows.append(
                (
                    f"a{next(event):03d}",
                    f"o{i}",
                    draw(st.sampled_from(EMPLOYEES)),
                    draw(st.sampled_from(DEPARTMENTS)),
                    closed - dt.timedelta(microseconds=age),
                )
            )
    return opps_frame(opp_rows), acts_frame(act_rows)


MODEL_KW = {
    "position_based": {"position_first": D("0.25"), "position_last": D("0.6")},
    "time_decay": {"half_life_days": D("2.5")},
}


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(), seed=st.integers(0, 2**32 - 1))
def test_every_model_conserves_amounts_and_ignores_row_order(model, batch, seed):
    opps, acts = batch
    kw = MODEL_KW.get(model, {})
    credits, values = run(opps, acts, model, lookback=30, **kw)
    assert credits.schema == CREDITS_SCHEMA and values.schema == DEPARTMENT_VALUES_SCHEMA
    assert credits["credit"].min() is None or credits["credit"].min() >= 0
    assert credits["share"].min() is None or credits["share"].min() > 0
    won = dict(zip(*opps.filter(pl.col("stage") == "won").select("opportunity_id", "amount").get_columns()))
    sums = credits.group_by("opportunity_id").agg(pl.col("credit").sum(), pl.col("share").sum(), pl.len())
    assert set(sums["opportunity_id"]) == set(won)
    for oid, credit, share, n in sums.iter_rows():
        assert credit == won[oid]
        assert abs(share - 1) <= D("1e-12") * n
    assert credits.select("opportunity_id", "employee_id").is_unique().all()
    # invariant to the row order of every input
    shuffled_opps = opps.sample(fraction=1.0, shuffle=True, seed=seed)
    shuffled_touches = build_touches(opps, acts, 30).sample(fraction=1.0, shuffle=True, seed=seed + 1)
    credits2, values2 = attribute_credits(shuffled_opps, shuffled_touches, model=model, **kw)
    assert credits2.equals(credits)
    assert values2.equals(values)
    touches3 = build_touches(shuffled_opps, acts.sample(fraction=1.0, shuffle=True, seed=seed + 2), 30)
    assert touches3.equals(build_touches(opps, acts, 30))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 10**12), st.lists(st.integers(0, 10**6), min_size=1, max_size=5)),
        min_size=1,
        max_size=6,
    )
)
def test_vectorised_and_python_allocation_agree(opps):
    rows = []
    for i, (_, cents, nums) in enumerate(opps):
        nums = [n for n in nums if n] or [1]
        for j, num in enumerate(nums):
            rows.append((f"o{i}", f"e{j}", "d", cents, num, sum(nums)))
    w = pl.DataFrame(rows, schema=["opportunity_id", "employee_id", "department", "cents", "num", "den"], orient="row")
    w = w.with_columns(pl.col("num").cast(pl.Int128), pl.col("den").cast(pl.Int128))
    vec = allocate_vectorised(w).sort("opportunity_id", "employee_id")
    py = allocate_python(*(w[c].to_list() for c in w.columns)).sort("opportunity_id", "employee_id")
    assert vec.equals(py)


def test_huge_amounts_fall_back_to_exact_python_allocation():
    # 9,999,999,999,999,999.99 with time_decay weights (den ~ 3e20) overflows Int128 bounds -> Python path
    opps = opps_frame([("o1", "won", "9999999999999999.99", "s1", T0)])
    credits, _ = run(opps, THREE_ACTS, "time_decay")
    assert sum(credits["credit"].to_list()) == D("9999999999999999.99")
    # weights 1/4, 1/2, 1 (whole half-lives) -> 4/7 of 999999999999999999 cents is exactly 571428571428571428
    assert credit_map(credits)["l1"] == D("5714285714285714.28")


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------
def test_period_of_close_plays_each_period_apart():
    opps = opps_frame(
        [
            ("j1", "won", "10.00", "own", T0),
            ("j2", "lost", "10.00", "own", T0),
            ("f1", "won", "20.00", "own", T0),
        ]
    )
    acts = acts_frame(
        [
            ("e1", "j1", "a1", "A", day(1)),
            ("e2", "j2", "b1", "B", day(1)),
            ("e3", "f1", "b1", "B", day(1)),
        ]
    )
    periods = pl.DataFrame({"opportunity_id": ["j1", "j2", "f1"], "period": ["2026-01", "2026-01", "2026-02"]})
    credits, values = run(opps, acts, "shapley", period_of_close=periods)
    assert credits.columns == ["period", *CREDITS_SCHEMA.names()]
    assert values.columns == ["period", *DEPARTMENT_VALUES_SCHEMA.names()]
    got = {(p, d): v for p, d, _, v in values.iter_rows()}
    # Jan: v(A)=1, v(B)=0, v(AB)=1/2 -> phi_A = 1/2(1) + 1/2(1/2-0) = 3/4, phi_B = 1/2(0) + 1/2(1/2-1) = -1/4
    assert got == {("2026-01", "A"): D("0.75"), ("2026-01", "B"): D("-0.25"), ("2026-02", "B"): D("1")}
    assert credits.select("period", "opportunity_id", "employee_id", "credit").rows() == [
        ("2026-01", "j1", "a1", D("10.00")),
        ("2026-02", "f1", "b1", D("20.00")),
    ]
    with pytest.raises(ValueError, match="no period"):
        run(opps, acts, "linear", period_of_close=periods.head(2))
