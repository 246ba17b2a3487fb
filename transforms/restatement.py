"""Restating a closed period: the per-employee difference between its frozen and its recomputed figures.

Both sides are frames with one row per employee: employee_id, composite (display decimal),
composite_exact, multiplier_exact (exact rationals as text) and bonus_amount (Decimal cents).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from schemas.marts import frame_columns
from transforms.scoring import MONEY

FIGURES = ["composite", "composite_exact", "multiplier_exact", "bonus_amount"]
RESTATEMENT_COLUMNS = frame_columns("restatements")


def compare_figures(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Every employee on either side: old_* and new_* figures, the bonus difference (new - old, a missing
    side counting as 0) and ``changed`` (an exact figure differs, or the employee is on one side only)."""
    pick = ["employee_id", *FIGURES]
    both = old.select(pick).join(new.select(pick), on="employee_id", how="full", coalesce=True, suffix="_new")
    both = both.rename({c: f"old_{c}" for c in FIGURES}).rename({f"{c}_new": f"new_{c}" for c in FIGURES})
    changed = pl.lit(False)
    for c in ("composite_exact", "multiplier_exact", "bonus_amount"):
        changed = changed | pl.col(f"old_{c}").ne_missing(pl.col(f"new_{c}"))
    return both.with_columns(
        (pl.col("new_bonus_amount").fill_null(0).cast(MONEY) - pl.col("old_bonus_amount").fill_null(0).cast(MONEY))
        .cast(MONEY).alias("difference"),
        changed.alias("changed"),
    ).sort("employee_id")


def has_changes(comparison: pl.DataFrame) -> bool:
    """Would recomputing change the period (the test for "pending restatement")?"""
    return bool(comparison["changed"].any()) if comparison.height else False


def restate_period(comparison: pl.DataFrame, *, period: str, old_run_id: str, new_run_id: str, reason: str,
                   restated_at: dt.datetime) -> pl.DataFrame:
    """The ``restatements`` rows of one reopened period: one per employee, old and new figures side by side."""
    return comparison.select(
        pl.lit(period).alias("period"), "employee_id", pl.lit(old_run_id).alias("old_run_id"),
        pl.lit(new_run_id).alias("new_run_id"), "old_composite", "new_composite", "old_bonus_amount",
        "new_bonus_amount", "difference", pl.lit(reason).alias("reason"),
        pl.lit(restated_at, dtype=pl.Datetime("us", "UTC")).alias("restated_at"),
    )


class PeriodStateError(ValueError):
    """The period is not in the state the operation needs (a message telling the user what to do)."""


@dataclass(frozen=True)
class Restatement:
    """A closed period being reopened: the run it was frozen on, why, and its restatement rows."""

    period: str
    closed_run_id: str
    reason: str
    rows: pl.DataFrame
    changed: int  # employees whose figures change


def check_restate(restate: dict[str, str], closed) -> None:
    """Only a closed period (``closed``: period -> its frozen figures) is reopened."""
    for label in sorted(set(restate) - set(closed)):
        raise PeriodStateError(f"period {label} is not closed; only a closed period is reopened")


def compare_closed(results, closed, restate: dict[str, str], run_id: str, at: dt.datetime
                   ) -> tuple[dict[str, bool], list[Restatement]]:
    """For each closed period evaluated (``results``: its recomputed scores; ``closed``: period -> frozen
    ``run_id`` and ``figures``): whether the new data would change it (pending restatement) or, when it is
    being reopened (``restate``: period -> reason), its restatement. A period to restate that was not
    recomputed (no plan in force) raises :class:`PeriodStateError`."""
    pending: dict[str, bool] = {}
    restatements: list[Restatement] = []
    for r in results:
        frozen = closed.get(r.period.label)
        if frozen is None:
            continue
        comparison = compare_figures(frozen.figures, r.scores)
        reason = restate.get(r.period.label)
        if reason is None:
            pending[r.period.label] = has_changes(comparison)
            continue
        rows = restate_period(comparison, period=r.period.label, old_run_id=frozen.run_id, new_run_id=run_id,
                              reason=reason, restated_at=at)
        restatements.append(Restatement(r.period.label, frozen.run_id, reason, rows, int(comparison["changed"].sum())))
    for label in sorted(set(restate) - {r.period for r in restatements}):
        raise PeriodStateError(f"period {label} could not be recomputed (no plan in force); it stays closed")
    return pending, restatements
