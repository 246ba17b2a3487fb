"""Exact Shapley values of the win-rate game (subset sums over bitmasks, exact Fractions)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

import numpy as np


def _subset_sums(values: np.ndarray, n: int) -> np.ndarray:
    """Zeta transform: out[S] = sum of values[T] over T subset of S (in place, O(n 2^n))."""
    for i in range(n):
        view = values.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    return values


def shapley_from_masks(n: int, counts: Mapping[int, tuple[int, int]]) -> list[Fraction]:
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
    return dict(zip(names, shapley_from_masks(len(names), masks)))
