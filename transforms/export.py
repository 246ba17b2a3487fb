"""Shaping HR's bonus export: exact figures to fixed decimals, text made safe for spreadsheets."""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from transforms.scoring import round_half_up

EXPORT_COLUMNS = ["employee_id", "full_name", "department", "period", "composite", "payout_multiplier",
                  "bonus_amount", "currency", "incomplete", "plan_version", "run_id"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def round_exact(value: str, places: int = 6) -> str:
    """An exact rational (text 'p/q' or a decimal) rounded half-up to ``places`` decimals, as text."""
    return str(round_half_up(Fraction(value), places))


def guard_text(value: str | None) -> str:
    """Stop a value from being read as a spreadsheet formula (CSV and XLSX)."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def shape_bonus_export(lines: pl.DataFrame, *, draft: bool) -> pl.DataFrame:
    """Rows of ``bonus_lines`` -> the export table (all text, stable column order, sorted by employee_id)."""
    out = lines.sort("employee_id").select(
        pl.col("employee_id").map_elements(guard_text, return_dtype=pl.Utf8),
        pl.col("full_name").map_elements(guard_text, return_dtype=pl.Utf8),
        pl.col("department").map_elements(guard_text, return_dtype=pl.Utf8),
        pl.col("period"),
        pl.col("composite_exact").map_elements(round_exact, return_dtype=pl.Utf8).alias("composite"),
        pl.col("multiplier_exact").map_elements(round_exact, return_dtype=pl.Utf8).alias("payout_multiplier"),
        pl.col("bonus_amount").cast(pl.Utf8),
        pl.col("currency"),
        pl.when(pl.col("incomplete")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("incomplete"),
        pl.col("plan_version"),
        pl.col("run_id"),
    )
    if draft:
        out = out.with_columns(pl.lit("DRAFT").alias("status"))
    return out
