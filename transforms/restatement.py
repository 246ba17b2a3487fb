"""Restating a closed period: the per-employee difference between its frozen and its recomputed figures.

Both sides are frames with one row per employee: employee_id, composite (display decimal),
composite_exact, multiplier_exact (exact rationals as text) and bonus_amount (Decimal cents).
"""

from __future__ import annotations

import datetime as dt

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
