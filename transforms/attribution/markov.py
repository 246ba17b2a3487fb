"""Removal effects of the first-order absorbing Markov chain of department sequences (exact)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction


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


def markov_from_transitions(transitions: Mapping[tuple[str | None, str | None, bool], int]) -> dict[str, Fraction]:
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
        steps: list[tuple[str | None, str | None, bool]] = list(zip([None, *seq], seq, [False] * len(seq)))
        steps.append((seq[-1], None, bool(converted)))
        for step in steps:
            counts[step] = counts.get(step, 0) + 1
    return markov_from_transitions(counts)
