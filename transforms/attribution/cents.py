"""Money split in integer cents by the largest-remainder rule: the exact scalar rule and its two
frame engines (vectorised Int128 when it cannot overflow, Python integers otherwise)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

import polars as pl

from transforms.attribution.common import INT128_SAFE, ROWS_SCHEMA, SHARE_SCALE, scaled_share
from transforms.rounding import half_up_expr


def allocate_ints(amount_cents: int, keys: Sequence[str], nums: Sequence[int], den: int) -> list[int]:
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
    cents = allocate_ints(int(cents_exact), keys, nums, total)
    return {k: Decimal(c).scaleb(-2) for k, c in zip(keys, cents)}


def allocate_frame(w: pl.DataFrame) -> pl.DataFrame:
    """Largest-remainder allocation for rows (opportunity_id, employee_id, department, cents, num, den)."""
    if w.height == 0:
        return pl.DataFrame(schema=ROWS_SCHEMA)
    stats = w.select(
        pl.col("cents").cast(pl.Int128).max().alias("cmax"),
        pl.col("cents").min().alias("cmin"),
        pl.col("den").cast(pl.Int128).max().alias("dmax"),
    ).row(0)
    cmax, cmin, dmax = (int(v) for v in stats)
    if cmin >= 0 and max(cmax, 1) * dmax < INT128_SAFE and 2 * SHARE_SCALE * dmax < INT128_SAFE:
        return allocate_vectorised(w)
    return allocate_python(
        w["opportunity_id"].to_list(),
        w["employee_id"].to_list(),
        w["department"].to_list(),
        [int(v) for v in w["cents"].to_list()],
        [int(v) for v in w["num"].to_list()],
        [int(v) for v in w["den"].to_list()],
    )


def allocate_vectorised(w: pl.DataFrame) -> pl.DataFrame:
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
            share_scaled=half_up_expr(SHARE_SCALE * num, den).cast(pl.Int64),
        )
        .collect()
    )


def allocate_python(
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
        alloc = allocate_ints(cents[start], emps[start:end], nums[start:end], den)
        credit[start:end] = alloc
        shares[start:end] = [scaled_share(v, den) for v in nums[start:end]]
        start = end
    return pl.DataFrame(
        {
            "opportunity_id": opps,
            "employee_id": emps,
            "department": depts,
            "credit_cents": credit,
            "share_scaled": shares,
        },
        schema=ROWS_SCHEMA,
    )
