"""The Shapley and Markov games on a batch of touches, and the split of won amounts by department
value, then equally over each department's employees."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import polars as pl

from transforms.attribution.cents import allocate_ints
from transforms.attribution.common import ROWS_SCHEMA, scaled_share
from transforms.attribution.markov import markov_from_transitions
from transforms.attribution.shapley import shapley_from_masks


def game_department_weights(values: Mapping[str, Fraction]) -> dict[str, int]:
    """max(value, 0) as integers over one common denominator (reduced by their gcd)."""
    pos = {d: max(v, Fraction(0)) for d, v in values.items()}
    den = math.lcm(*(v.denominator for v in pos.values())) if pos else 1
    ints = {d: int(v * den) for d, v in pos.items()}
    g = math.gcd(*ints.values()) if ints else 0
    return {d: v // g for d, v in ints.items()} if g > 1 else ints


def _game_employee_weights(
    depts: Sequence[str], emps: Sequence[Any], ranks: Sequence[int], dept_weight: Mapping[str, int]
) -> tuple[list[Any], list[str], list[int], int]:
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


def game_split(touches: pl.DataFrame, dept_weight: Mapping[str, int]) -> pl.DataFrame:
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
                hit = (list(pos_e), nums, den, [scaled_share(n, den) for n in nums])
                shapes[shape] = hit
            pos, nums, den, shares = hit
            keys = [emps[i] for i in pos]
            depts = [shape[i] for i in pos]
        else:
            keys, depts, nums, den = _game_employee_weights(d_l[start:end], emps, r_l[start:end], dept_weight)
            shares = [scaled_share(n, den) for n in nums]
        cents = c_l[start]
        out_o.extend([opp] * len(keys))
        out_e.extend(keys)
        out_d.extend(depts)
        out_c.extend(allocate_ints(cents, keys, nums, den) if len(keys) > 1 else [cents])
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
        schema=ROWS_SCHEMA,
    )


def game_values(ranked: pl.DataFrame, model: str) -> dict[str, Fraction]:
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
        return dict(zip(players, shapley_from_masks(len(players), counts)))
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
    return markov_from_transitions(transitions)
