"""Cross-area attribution: which employees, in which departments, moved a won deal.

Pure functions, frames in, frames out (DESIGN.md, Computation step 5 and
"Precise rules": Touches, The Shapley and Markov games, Rounding of credits).

* :func:`build_touches` joins closed opportunities to the activities that carry
  their id within the lookback window (vectorised polars).
* :func:`attribute_credits` splits every won opportunity's amount over its
  touching employees with one model and returns the per-employee credits plus
  the per-department values of the batch.
* :func:`allocate_cents`, :func:`shapley_values` and
  :func:`markov_removal_effects` are the exact building blocks.

Exactness. Every split is carried as integer weights ``num / den`` per
opportunity (rationals, never floats), and money is allocated in integer cents
by the largest-remainder rule, so the credits of an opportunity always add up
to its amount to the cent. ``time_decay`` weights are irrational: each touch's
weight relative to the opportunity's latest touch, 2^(-(age - min age) / half
life), is computed to ~48 digits (Decimal tables at 60 digits, exact integer
products) and rounded to an integer multiple of 1e-20 (``_DECAY_SCALE``); that
is deterministic on every platform, and from there on the arithmetic is exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl

MODELS = ("last_touch", "first_touch", "linear", "position_based", "time_decay", "shapley", "markov")
HEURISTIC_MODELS = MODELS[:5]
GAME_MODELS = MODELS[5:]
CLOSED_STAGES = ("won", "lost")
UNKNOWN_DEPARTMENT = "unknown"

#: Shares and department values are published rounded half-up to this many decimals.
SHARE_DECIMALS = 12
_SHARE_SCALE = 10**SHARE_DECIMALS
#: time_decay weights are fixed to this integer scale (relative to the latest touch, whose weight is 1).
_DECAY_SCALE = 10**20
_DECAY_CONTEXT = Context(prec=60)
_LN2 = Decimal(2).ln(Context(prec=70))
_DECAY_BITS = 160  # fixed-point fraction bits of the decay factors (~48 decimal digits)
_DECAY_BASE = 1000
#: Bound below which the vectorised Int128 allocation cannot overflow.
_INT128_SAFE = 1 << 125

TOUCH_COLUMNS = (
    "opportunity_id",
    "stage",
    "amount",
    "closed_at",
    "owner_employee_id",
    "event_id",
    "employee_id",
    "department",
    "occurred_at",
)
CREDITS_SCHEMA = pl.Schema(
    {
        "opportunity_id": pl.Utf8,
        "employee_id": pl.Utf8,
        "department": pl.Utf8,
        "model": pl.Utf8,
        "credit": pl.Decimal(18, 2),
        "share": pl.Decimal(38, SHARE_DECIMALS),
    }
)
DEPARTMENT_VALUES_SCHEMA = pl.Schema(
    {"department": pl.Utf8, "model": pl.Utf8, "value": pl.Decimal(38, SHARE_DECIMALS)}
)
# Internal allocation rows: one per (opportunity, credited employee).
_ROWS_SCHEMA = pl.Schema(
    {
        "opportunity_id": pl.Utf8,
        "employee_id": pl.Utf8,
        "department": pl.Utf8,
        "credit_cents": pl.Int64,
        "share_scaled": pl.Int64,
    }
)
_TOUCH_ORDER = ["opportunity_id", "occurred_at", "event_id", "employee_id", "department"]


# ---------------------------------------------------------------------------
# Touches
# ---------------------------------------------------------------------------
def build_touches(opportunities: pl.DataFrame, activities: pl.DataFrame, lookback_days: int) -> pl.DataFrame:
    """One row per touch of a closed (won or lost) opportunity.

    A touch is an activity carrying the opportunity's id with
    ``closed_at - lookback_days <= occurred_at <= closed_at`` (both ends
    inclusive; a day is 24 hours of UTC time). Columns: ``TOUCH_COLUMNS`` with
    the input dtypes; rows sorted by (opportunity_id, occurred_at, event_id).
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    closed = (
        opportunities.lazy()
        .select("opportunity_id", "stage", "amount", "closed_at", "owner_employee_id")
        .filter(pl.col("stage").is_in(CLOSED_STAGES) & pl.col("closed_at").is_not_null())
    )
    acts = (
        activities.lazy()
        .select("event_id", "employee_id", "department", "occurred_at", "opportunity_id")
        .filter(pl.col("opportunity_id").is_not_null())
    )
    return (
        closed.join(acts, on="opportunity_id", how="inner")
        .filter(
            (pl.col("occurred_at") <= pl.col("closed_at"))
            & (pl.col("occurred_at") >= pl.col("closed_at") - pl.duration(days=lookback_days))
        )
        .select(TOUCH_COLUMNS)
        .sort(_TOUCH_ORDER)
        .collect()
    )


# ---------------------------------------------------------------------------
# Exact building blocks
# ---------------------------------------------------------------------------
def _allocate_ints(amount_cents: int, keys: Sequence[str], nums: Sequence[int], den: int) -> list[int]:
    """Largest remainder over integer weights ``nums / den`` (``sum(nums) == den``); cents per key."""
    floors: list[int] = []
    rems: list[int] = []
    for num in nums:
        q, r = divmod(amount_cents * num, den)
        floors.append(q)
        rems.append(r)
    left = amount_cents - sum(floors)
    if left:
        order = sorted(range(len(keys)), key=lambda i: (-rems[i], keys[i]))
        for i in order[:left]:
            floors[i] += 1
    return floors


def allocate_cents(amount: Decimal, weights: Mapping[str, Fraction]) -> dict[str, Decimal]:
    """Split ``amount`` over ``weights`` (normalised by their sum) by the largest-remainder rule.

    Each key's exact share is floored to the cent; the cents left over go one
    each to the largest remainders, ties by key (employee_id). The result sums
    to ``amount`` exactly. ``amount`` must be a whole number of cents; weights
    must be >= 0 with a positive sum.
    """
    if not weights:
        raise ValueError("allocate_cents needs at least one weight")
    fr = {k: Fraction(w) for k, w in weights.items()}
    if any(w < 0 for w in fr.values()):
        raise ValueError("weights must be >= 0")
    cents_exact = Fraction(Decimal(amount)) * 100
    if cents_exact.denominator != 1:
        raise ValueError(f"amount {amount} is not a whole number of cents")
    den = math.lcm(*(w.denominator for w in fr.values()))
    keys = list(fr)
    nums = [w.numerator * (den // w.denominator) for w in fr.values()]
    total = sum(nums)
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    cents = _allocate_ints(int(cents_exact), keys, nums, total)
    return {k: Decimal(c).scaleb(-2) for k, c in zip(keys, cents)}


def _subset_sums(values: np.ndarray, n: int) -> np.ndarray:
    """Zeta transform: out[S] = sum of values[T] over T subset of S (in place, O(n 2^n))."""
    for i in range(n):
        view = values.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    return values


def _shapley_from_masks(n: int, counts: Mapping[int, tuple[int, int]]) -> list[Fraction]:
    """Exact Shapley values of v(S) = won(S)/closed(S) (0 when closed(S) = 0), players 0..n-1.

    ``counts`` maps a non-empty bitmask of touching departments to (won, closed).
    phi_i = 1/n! * sum_S v(S) * ((|S|-1)!(n-|S|)! if i in S else -|S|!(n-|S|-1)!).
    The subset sums are exact int64 numpy arrays; the v(S) are grouped by their
    denominator closed(S), so the final sum is one exact integer over lcm(closed) * n!.
    """
    if n == 0:
        return []
    size = 1 << n
    won = np.zeros(size, dtype=np.int64)
    closed = np.zeros(size, dtype=np.int64)
    for mask, (w, c) in counts.items():
        if not 0 < mask < size:
            raise ValueError(f"coalition mask {mask} out of range for {n} players")
        if not 0 <= w <= c:
            raise ValueError(f"coalition counts must satisfy 0 <= won <= closed, got {w}/{c}")
        won[mask] += w
        closed[mask] += c
    _subset_sums(won, n)
    _subset_sums(closed, n)
    idx = np.arange(size, dtype=np.int64)
    pop = np.zeros(size, dtype=np.int64)
    for i in range(n):
        pop += (idx >> i) & 1
    keep = closed > 0
    won_k, closed_k, pop_k, idx_k = won[keep], closed[keep], pop[keep], idx[keep]
    if len(closed_k) == 0:
        return [Fraction(0)] * n
    cvals, cinv = np.unique(closed_k, return_inverse=True)
    groups = len(cvals) * (n + 1)
    key = cinv.astype(np.int64) * (n + 1) + pop_k
    exact_float = int(won_k.sum()) < (1 << 53)  # bincount sums in float64: exact below 2^53

    def grouped(sel: np.ndarray) -> np.ndarray:
        if exact_float:
            out = np.bincount(key[sel], weights=won_k[sel].astype(np.float64), minlength=groups)
            return np.rint(out).astype(np.int64).reshape(len(cvals), n + 1)
        acc = np.zeros(groups, dtype=np.int64)
        np.add.at(acc, key[sel], won_k[sel])
        return acc.reshape(len(cvals), n + 1)

    fact = [math.factorial(k) for k in range(n + 1)]
    g_in = np.array([0] + [fact[s - 1] * fact[n - s] for s in range(1, n + 1)], dtype=object)
    g_out = np.array([fact[s] * fact[n - s - 1] for s in range(n)] + [0], dtype=object)
    clist = [int(c) for c in cvals]
    lcm_c = math.lcm(*clist)
    l_over_c = np.array([lcm_c // c for c in clist], dtype=object)
    denominator = lcm_c * fact[n]
    phis: list[Fraction] = []
    for i in range(n):
        member = ((idx_k >> i) & 1).astype(bool)
        per_c = grouped(member).astype(object).dot(g_in) - grouped(~member).astype(object).dot(g_out)
        phis.append(Fraction(int(per_c.dot(l_over_c)), denominator))
    return phis


def shapley_values(
    coalition_counts: Mapping[frozenset[str], tuple[int, int]],
    players: Iterable[str] | None = None,
) -> dict[str, Fraction]:
    """Exact Shapley values of the win-rate game.

    ``coalition_counts`` maps each set of touching departments to (won, closed):
    the numbers of won and of closed opportunities touched by exactly that set.
    v(S) = sum(won) / sum(closed) over the sets contained in S, 0 when there is
    none (so v(empty) = 0). Empty sets are ignored (an opportunity with no touch
    is not in the game). ``players`` adds departments that touched nothing
    (their value is 0). Subset-sum DP over bitmasks, O(n 2^n); exact Fractions.
    """
    names = sorted(set().union(*coalition_counts.keys(), players or ()))
    if len(names) > 30:
        raise ValueError(f"shapley over {len(names)} departments is too large (2^n coalitions)")
    bit = {d: 1 << i for i, d in enumerate(names)}
    masks: dict[int, tuple[int, int]] = {}
    for coalition, (w, c) in coalition_counts.items():
        if not coalition:
            continue
        m = sum(bit[d] for d in coalition)
        pw, pc = masks.get(m, (0, 0))
        masks[m] = (pw + int(w), pc + int(c))
    return dict(zip(names, _shapley_from_masks(len(names), masks)))


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Solve matrix @ x = rhs exactly (Gauss-Jordan on Fractions, non-zero pivot search)."""
    n = len(rhs)
    a = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if a[r][col] != 0), None)
        if pivot is None:
            raise ValueError("singular Markov system")
        a[col], a[pivot] = a[pivot], a[col]
        p = a[col][col]
        if p != 1:
            a[col] = [v / p for v in a[col]]
        for r in range(n):
            f = a[r][col]
            if r != col and f != 0:
                a[r] = [v - f * pv for v, pv in zip(a[r], a[col])]
    return [a[i][n] for i in range(n)]


def _conversion_probability(
    states: list[str],
    transitions: Mapping[tuple[str | None, str | None, bool], int],
    removed: str | None,
) -> Fraction:
    """P(start reaches conversion) in the chain; transitions into ``removed`` go to null instead."""
    live = [None] + [s for s in states if s != removed]  # None = start
    pos = {s: i for i, s in enumerate(live)}
    out: dict[str | None, int] = {}
    for (src, _dst, _conv), k in transitions.items():
        out[src] = out.get(src, 0) + k
    n = len(live)
    matrix = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    rhs = [Fraction(0)] * n
    for (src, dst, conv), k in transitions.items():
        if src not in pos:
            continue
        p = Fraction(k, out[src])
        if dst is None:
            if conv:
                rhs[pos[src]] += p
        elif dst in pos:
            matrix[pos[src]][pos[dst]] -= p
        # else: dst is the removed state, which now leads to null
    return _solve_exact(matrix, rhs)[0]


def _markov_from_transitions(transitions: Mapping[tuple[str | None, str | None, bool], int]) -> dict[str, Fraction]:
    """Removal effects from transition counts keyed (src, dst, converted).

    ``src`` None is the start state; ``dst`` None is absorption (conversion when
    ``converted`` is true, null otherwise). Departments are the named states.
    """
    states = sorted({s for s, _, _ in transitions if s is not None} | {d for _, d, _ in transitions if d is not None})
    if not states:
        return {}
    base = _conversion_probability(states, transitions, None)
    if base == 0:
        return dict.fromkeys(states, Fraction(0))
    return {s: 1 - _conversion_probability(states, transitions, s) / base for s in states}


def markov_removal_effects(paths: Iterable[tuple[Sequence[str], bool]]) -> dict[str, Fraction]:
    """Removal effect of each department in the first-order absorbing Markov chain.

    ``paths``: one (departments in touch order, converted) per closed
    opportunity. The chain is start -> departments -> conversion | null with
    transition probabilities estimated from the counts (repeated departments
    are kept as self-loops, which do not change absorption probabilities).
    Removing a department sends every transition into it to null; its removal
    effect is 1 - P(conversion without it) / P(conversion), or 0 for every
    department when nothing converted. Solved exactly (Fractions). Empty paths
    are ignored.
    """
    counts: dict[tuple[str | None, str | None, bool], int] = {}
    for seq, converted in paths:
        seq = list(seq)
        if not seq:
            continue
        steps = list(zip([None, *seq], seq, [False] * len(seq)))
        steps.append((seq[-1], None, bool(converted)))
        for step in steps:
            counts[step] = counts.get(step, 0) + 1
    return _markov_from_transitions(counts)


# ---------------------------------------------------------------------------
# Helpers for the frame-level allocation
# ---------------------------------------------------------------------------
def _scaled_share(num: int, den: int) -> int:
    """round_half_up(num / den * 10^12) for den > 0 (exact integers)."""
    return (2 * num * _SHARE_SCALE + den) // (2 * den)


def _decay_weights(deltas_us: np.ndarray, half_life_days: Decimal) -> np.ndarray:
    """round(2^(-delta / half_life) * _DECAY_SCALE) for each touch age delta (int64 microseconds).

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
    return (acc * _DECAY_SCALE + half) >> _DECAY_BITS


def _position_fractions(first: Decimal, last: Decimal) -> tuple[int, int, int]:
    """(a, b, d) with first = a/d and last = b/d exactly."""
    f, l = Fraction(Decimal(first)), Fraction(Decimal(last))
    if f < 0 or l < 0 or f + l > 1 or f + l == 0:
        raise ValueError(f"position_based needs first, last >= 0 and 0 < first + last <= 1, got {first}, {last}")
    d = math.lcm(f.denominator, l.denominator)
    return int(f * d), int(l * d), d


def _touch_weights(
    touches: pl.LazyFrame, model: str, position: tuple[int, int, int], half_life: Decimal
) -> pl.DataFrame:
    """Per touch integer weight ``num`` (Int128) for a heuristic model; touches sorted, with idx/n."""
    idx, n = pl.col("idx"), pl.col("n")
    t = touches.sort(_TOUCH_ORDER).with_columns(
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
            {"delta": deltas, "num": pl.Series(_decay_weights(deltas.to_numpy(), half_life).tolist(), dtype=pl.Int128)}
        )
        return t.join(mapping.lazy(), on="delta", how="left").drop("delta").collect()
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(model)
    return t.with_columns(num=num).collect()


def _employee_weights(touch_weights: pl.DataFrame) -> pl.DataFrame:
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


def _allocate_frame(w: pl.DataFrame) -> pl.DataFrame:
    """Largest-remainder allocation for rows (opportunity_id, employee_id, department, cents, num, den)."""
    if w.height == 0:
        return pl.DataFrame(schema=_ROWS_SCHEMA)
    stats = w.select(
        pl.col("cents").cast(pl.Int128).max().alias("cmax"),
        pl.col("cents").min().alias("cmin"),
        pl.col("den").cast(pl.Int128).max().alias("dmax"),
    ).row(0)
    cmax, cmin, dmax = (int(v) for v in stats)
    if cmin >= 0 and max(cmax, 1) * dmax < _INT128_SAFE and 2 * _SHARE_SCALE * dmax < _INT128_SAFE:
        return _allocate_vectorised(w)
    return _allocate_python(
        w["opportunity_id"].to_list(),
        w["employee_id"].to_list(),
        w["department"].to_list(),
        [int(v) for v in w["cents"].to_list()],
        [int(v) for v in w["num"].to_list()],
        [int(v) for v in w["den"].to_list()],
    )


def _allocate_vectorised(w: pl.DataFrame) -> pl.DataFrame:
    c, num, den = pl.col("cents").cast(pl.Int128), pl.col("num").cast(pl.Int128), pl.col("den").cast(pl.Int128)
    return (
        w.lazy()
        .with_columns(p=c * num)
        .with_columns(q=pl.col("p") // den, r=pl.col("p") % den)
        .with_columns(left=c - pl.col("q").sum().over("opportunity_id"))
        .sort(["opportunity_id", "r", "employee_id"], descending=[False, True, False])
        .with_columns(pos=pl.int_range(pl.len(), dtype=pl.Int64).over("opportunity_id").cast(pl.Int128))
        .select(
            "opportunity_id",
            "employee_id",
            "department",
            credit_cents=(pl.col("q") + (pl.col("pos") < pl.col("left")).cast(pl.Int128)).cast(pl.Int64),
            share_scaled=((2 * _SHARE_SCALE * num + den) // (2 * den)).cast(pl.Int64),
        )
        .collect()
    )


def _allocate_python(
    opps: list[str], emps: list[str], depts: list[str], cents: list[int], nums: list[int], dens: list[int]
) -> pl.DataFrame:
    """Same as the vectorised allocation, in Python integers (any size). Rows grouped by opportunity."""
    credit: list[int] = [0] * len(opps)
    shares: list[int] = [0] * len(opps)
    start = 0
    total = len(opps)
    while start < total:
        end = start + 1
        while end < total and opps[end] == opps[start]:
            end += 1
        den = dens[start]
        alloc = _allocate_ints(cents[start], emps[start:end], nums[start:end], den)
        credit[start:end] = alloc
        shares[start:end] = [_scaled_share(v, den) for v in nums[start:end]]
        start = end
    return pl.DataFrame(
        {
            "opportunity_id": opps,
            "employee_id": emps,
            "department": depts,
            "credit_cents": credit,
            "share_scaled": shares,
        },
        schema=_ROWS_SCHEMA,
    )


def _game_department_weights(values: Mapping[str, Fraction]) -> dict[str, int]:
    """max(value, 0) as integers over one common denominator (reduced by their gcd)."""
    pos = {d: max(v, Fraction(0)) for d, v in values.items()}
    den = math.lcm(*(v.denominator for v in pos.values())) if pos else 1
    ints = {d: int(v * den) for d, v in pos.items()}
    g = math.gcd(*ints.values()) if ints else 0
    return {d: v // g for d, v in ints.items()} if g > 1 else ints


def _game_employee_weights(
    depts: Sequence[str], emps: Sequence[Any], ranks: Sequence[int], dept_weight: Mapping[str, int]
) -> tuple[list[str], list[str], list[int], int]:
    """One won opportunity's (employee, department, num) and den for a game split.

    Rows are the opportunity's distinct (department, employee) pairs. Each
    department gets ``dept_weight`` (all equal if every present one is 0), split
    equally over its employees; an employee's department is the one giving the
    most, ties by their latest touch.
    """
    members: dict[str, list[int]] = {}
    for i, d in enumerate(depts):
        members.setdefault(d, []).append(i)
    vals = {d: dept_weight.get(d, 0) for d in members}
    if not any(vals.values()):
        vals = dict.fromkeys(members, 1)
    k = math.lcm(*(len(ix) for ix in members.values()))
    num: dict[str, int] = {}
    best: dict[str, tuple[int, int, str]] = {}
    for d, ix in members.items():
        contrib = vals[d] * (k // len(ix))
        for i in ix:
            e = emps[i]
            num[e] = num.get(e, 0) + contrib
            if e not in best or (contrib, ranks[i]) > best[e][:2]:
                best[e] = (contrib, ranks[i], d)
    out_e = [e for e in sorted(num) if num[e] > 0]
    return out_e, [best[e][2] for e in out_e], [num[e] for e in out_e], sum(vals.values()) * k


def _game_split(touches: pl.DataFrame, dept_weight: Mapping[str, int]) -> pl.DataFrame:
    """Split won opportunities over departments by weight, then equally over each department's employees.

    ``touches``: touches of won opportunities with ``cents`` and ``idx`` (touch rank).
    The integer weights can be very large (exact Shapley values), so this runs
    in Python integers; the weights of an opportunity depend only on its
    departments and their head counts, so they are computed once per such shape.
    """
    pairs = (
        touches.lazy()
        .group_by("opportunity_id", "department", "employee_id")
        .agg(rank=pl.col("idx").max(), cents=pl.col("cents").first())
        .sort("opportunity_id", "department", "employee_id")
        .collect()
    )
    o_l = pairs["opportunity_id"].to_list()
    d_l = pairs["department"].to_list()
    e_l = pairs["employee_id"].to_list()
    r_l = pairs["rank"].to_list()
    c_l = pairs["cents"].to_list()
    out_o: list[str] = []
    out_e: list[str] = []
    out_d: list[str] = []
    out_c: list[int] = []
    out_s: list[int] = []
    # shape (departments of the rows, sorted) -> (positions of credited rows, nums, den, scaled shares)
    shapes: dict[tuple[str, ...], tuple[list[int], list[int], int, list[int]]] = {}
    total = len(o_l)
    start = 0
    while start < total:
        opp = o_l[start]
        end = start + 1
        while end < total and o_l[end] == opp:
            end += 1
        emps = e_l[start:end]
        if len(set(emps)) == len(emps):  # nobody touched through two departments: use the shape cache
            shape = tuple(d_l[start:end])
            hit = shapes.get(shape)
            if hit is None:
                pos_e, _, nums, den = _game_employee_weights(shape, range(len(shape)), [0] * len(shape), dept_weight)
                hit = (list(pos_e), nums, den, [_scaled_share(n, den) for n in nums])
                shapes[shape] = hit
            pos, nums, den, shares = hit
            keys = [emps[i] for i in pos]
            depts = [shape[i] for i in pos]
        else:
            keys, depts, nums, den = _game_employee_weights(d_l[start:end], emps, r_l[start:end], dept_weight)
            shares = [_scaled_share(n, den) for n in nums]
        cents = c_l[start]
        out_o.extend([opp] * len(keys))
        out_e.extend(keys)
        out_d.extend(depts)
        out_c.extend(_allocate_ints(cents, keys, nums, den) if len(keys) > 1 else [cents])
        out_s.extend(shares)
        start = end
    return pl.DataFrame(
        {
            "opportunity_id": out_o,
            "employee_id": out_e,
            "department": out_d,
            "credit_cents": out_c,
            "share_scaled": out_s,
        },
        schema=_ROWS_SCHEMA,
    )


def _rows_to_credits(rows: pl.DataFrame, model: str) -> pl.DataFrame:
    return (
        rows.sort("opportunity_id", "employee_id")
        .select(
            "opportunity_id",
            "employee_id",
            "department",
            model=pl.lit(model, dtype=pl.Utf8),
            credit=(pl.col("credit_cents").cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(18, 2)),
            share=(pl.col("share_scaled").cast(pl.Decimal(38, SHARE_DECIMALS)) / _SHARE_SCALE).cast(
                pl.Decimal(38, SHARE_DECIMALS)
            ),
        )
    )


def _values_frame(values: Mapping[str, Fraction], model: str) -> pl.DataFrame:
    names = sorted(values)
    scaled = [
        (2 * v.numerator * _SHARE_SCALE + v.denominator) // (2 * v.denominator) for v in (values[d] for d in names)
    ]
    return pl.DataFrame(
        {"department": names, "model": [model] * len(names), "scaled": scaled},
        schema={"department": pl.Utf8, "model": pl.Utf8, "scaled": pl.Int64},
    ).select(
        "department",
        "model",
        value=(pl.col("scaled").cast(pl.Decimal(38, SHARE_DECIMALS)) / _SHARE_SCALE).cast(
            pl.Decimal(38, SHARE_DECIMALS)
        ),
    )


def _credited_share_values(rows: pl.DataFrame, model: str) -> pl.DataFrame:
    """Heuristic department values: each department's share of the total credited amount (0 if the total is 0)."""
    total = int(rows["credit_cents"].sum()) if rows.height else 0
    per = rows.group_by("department").agg(pl.col("credit_cents").sum()).rows()
    return _values_frame({d: Fraction(c, total) if total else Fraction(0) for d, c in per}, model)


def _owner_rows(won: pl.DataFrame, touched: pl.DataFrame, owner_departments: pl.DataFrame | None) -> pl.DataFrame:
    """Won opportunities with no touch credit their owner 100% in the owner's department."""
    untouched = won.join(touched.select("opportunity_id").unique(), on="opportunity_id", how="anti")
    if owner_departments is not None:
        od = owner_departments.select(pl.col("employee_id").alias("owner_employee_id"), "department")
        dup = od.filter(pl.col("owner_employee_id").is_duplicated())
        if dup.height:
            raise ValueError(
                "owner_departments must have one row per employee; repeated: "
                + ", ".join(sorted(set(dup["owner_employee_id"].cast(pl.Utf8).to_list()))[:5])
            )
        untouched = untouched.join(od, on="owner_employee_id", how="left")
    else:
        untouched = untouched.with_columns(department=pl.lit(None, dtype=pl.Utf8))
    return untouched.select(
        "opportunity_id",
        pl.col("owner_employee_id").alias("employee_id"),
        pl.col("department").fill_null(UNKNOWN_DEPARTMENT),
        pl.col("cents").alias("credit_cents"),
        pl.lit(_SHARE_SCALE, dtype=pl.Int64).alias("share_scaled"),
    )


def _attribute_batch(
    opportunities: pl.DataFrame,
    touches: pl.DataFrame,
    model: str,
    position: tuple[int, int, int],
    half_life: Decimal,
    owner_departments: pl.DataFrame | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    closed = (
        opportunities.lazy()
        .filter(pl.col("stage").is_in(CLOSED_STAGES))
        .select(
            "opportunity_id",
            "stage",
            "owner_employee_id",
            cents=(pl.col("amount").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64),
        )
        .collect()
    )
    won = closed.filter(pl.col("stage") == "won")
    t = (
        touches.lazy()
        .select("opportunity_id", "event_id", "employee_id", "department", "occurred_at")
        .join(closed.lazy().select("opportunity_id", "stage", "cents"), on="opportunity_id", how="inner")
    )
    if model in HEURISTIC_MODELS:
        tw = _touch_weights(t.filter(pl.col("stage") == "won"), model, position, half_life)
        rows = _allocate_frame(_employee_weights(tw))
        values = None
    else:
        ranked = (
            t.sort(_TOUCH_ORDER)
            .with_columns(idx=pl.int_range(pl.len(), dtype=pl.Int64).over("opportunity_id"))
            .collect()
        )
        values = _game_values(ranked, model)
        rows = _game_split(ranked.filter(pl.col("stage") == "won"), _game_department_weights(values))
        tw = ranked
    rows = pl.concat([rows, _owner_rows(won, tw, owner_departments)], how="vertical")
    dept_values = _credited_share_values(rows, model) if values is None else _values_frame(values, model)
    return _rows_to_credits(rows, model), dept_values


def _game_values(ranked: pl.DataFrame, model: str) -> dict[str, Fraction]:
    """Department values of the game played over all closed opportunities in ``ranked`` (touches, sorted)."""
    if ranked.height == 0:
        return {}
    if model == "shapley":
        players = sorted(ranked["department"].unique().to_list())
        if len(players) > 30:
            raise ValueError(f"shapley over {len(players)} departments is too large (2^n coalitions)")
        bits = pl.DataFrame({"department": players, "bit": [1 << i for i in range(len(players))]})
        per_opp = (
            ranked.lazy()
            .select("opportunity_id", "department", "stage")
            .unique()
            .join(bits.lazy(), on="department")
            .group_by("opportunity_id")
            .agg(mask=pl.col("bit").sum(), won=(pl.col("stage").first() == "won").cast(pl.Int64))
            .group_by("mask")
            .agg(won=pl.col("won").sum(), closed=pl.len())
            .collect()
        )
        counts = {int(m): (int(w), int(c)) for m, w, c in per_opp.select("mask", "won", "closed").rows()}
        return dict(zip(players, _shapley_from_masks(len(players), counts)))
    steps = (
        ranked.lazy()
        .select(
            "opportunity_id",
            "idx",
            "stage",
            src=pl.col("department").shift(1).over("opportunity_id"),
            dst=pl.col("department"),
            last=pl.col("idx") == pl.col("idx").max().over("opportunity_id"),
        )
        .collect()
    )
    inner = steps.group_by("src", "dst").agg(k=pl.len())
    ends = steps.filter(pl.col("last")).group_by("dst", "stage").agg(k=pl.len())
    transitions: dict[tuple[str | None, str | None, bool], int] = {}
    for src, dst, k in inner.rows():
        transitions[(src, dst, False)] = int(k)
    for dst, stage, k in ends.rows():
        key = (dst, None, stage == "won")
        transitions[key] = transitions.get(key, 0) + int(k)
    return _markov_from_transitions(transitions)


def attribute_credits(
    opportunities: pl.DataFrame,
    touches: pl.DataFrame,
    *,
    model: str,
    position_first: Decimal = Decimal("0.4"),
    position_last: Decimal = Decimal("0.4"),
    half_life_days: Decimal = Decimal(14),
    owner_departments: pl.DataFrame | None = None,
    period_of_close: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split every won opportunity in ``opportunities`` over its touching employees.

    ``opportunities``: the opportunities closed in one period (columns
    opportunity_id, stage, amount, owner_employee_id; open rows are ignored).
    ``touches``: from :func:`build_touches` (only opportunity_id, event_id,
    employee_id, department, occurred_at are read; touches of opportunities not
    closed in ``opportunities`` are ignored). The Shapley and Markov games are
    played over every closed opportunity passed in with at least one touch.

    ``period_of_close`` (opportunity_id, period) splits the batch: each period
    is attributed (and its games played) on its own and both outputs gain a
    leading ``period`` column. Every closed opportunity must have a period.

    Returns ``(credits, department_values)``:

    * credits (``CREDITS_SCHEMA``): one row per won opportunity and employee with
      a positive share, sorted by (opportunity_id, employee_id); ``share`` is the
      exact share rounded half-up to 12 decimals, ``credit`` the cents
      allocated by the largest-remainder rule (sums to the amount exactly).
      A won opportunity with no touch credits its owner in the owner's
      department from ``owner_departments`` (employee_id, department), or
      ``"unknown"``.
    * department_values (``DEPARTMENT_VALUES_SCHEMA``): shapley φ, markov
      removal effect, or for heuristic models the department's share of the
      total credited amount; sorted by department.
    """
    if model not in MODELS:
        raise ValueError(f"unknown attribution model {model!r}; expected one of {', '.join(MODELS)}")
    position = _position_fractions(position_first, position_last)
    half_life = Decimal(half_life_days)
    if half_life <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    if period_of_close is None:
        return _attribute_batch(opportunities, touches, model, position, half_life, owner_departments)
    periods = period_of_close.select("opportunity_id", pl.col("period").cast(pl.Utf8))
    opps = opportunities.filter(pl.col("stage").is_in(CLOSED_STAGES)).join(periods, on="opportunity_id", how="left")
    missing = opps.filter(pl.col("period").is_null())
    if missing.height:
        raise ValueError(
            f"{missing.height} closed opportunities have no period in period_of_close, e.g. "
            + ", ".join(sorted(missing["opportunity_id"].to_list())[:5])
        )
    credits_parts = [pl.DataFrame(schema={"period": pl.Utf8, **CREDITS_SCHEMA})]
    values_parts = [pl.DataFrame(schema={"period": pl.Utf8, **DEPARTMENT_VALUES_SCHEMA})]
    for period in sorted(opps["period"].unique().to_list()):
        part = opps.filter(pl.col("period") == period)
        credits, values = _attribute_batch(part, touches, model, position, half_life, owner_departments)
        credits_parts.append(credits.select(pl.lit(period, dtype=pl.Utf8).alias("period"), pl.all()))
        values_parts.append(values.select(pl.lit(period, dtype=pl.Utf8).alias("period"), pl.all()))
    return pl.concat(credits_parts, how="vertical"), pl.concat(values_parts, how="vertical")
