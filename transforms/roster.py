"""Roster time: who is employed in a period, for how many (fte-weighted) days, and as what.

DESIGN "Roster time": ``effective_from`` / ``effective_to`` are inclusive dates; a row with
no ``effective_to`` runs until the day before the same employee's next ``effective_from``
(or forever); days covered by no row are days not employed; when two rows overlap, the later
``effective_from`` wins. An employee belongs, for a period, to the roster row in force on the
last day they were employed in it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.periods import Period

ROSTER_SCHEMA = pl.Schema({
    "employee_id": pl.Utf8(),
    "full_name": pl.Utf8(),
    "department": pl.Utf8(),
    "role": pl.Utf8(),
    "currency": pl.Utf8(),
    "manager_id": pl.Utf8(),
    "bonus_target": pl.Decimal(18, 2),
    "last_employed_day": pl.Date(),
    "days_employed": pl.Int64(),
    "fte_days": pl.Decimal(38, 9),
    "days_in_period": pl.Int64(),
})


#: The employees columns the roster reads (``effective_to`` and ``manager_id`` may be absent).
INPUT_COLUMNS = ("employee_id", "full_name", "department", "role", "currency", "manager_id", "fte", "bonus_target",
                 "effective_from", "effective_to")


def resolve_roster(employees: pl.DataFrame | pl.LazyFrame, period: Period) -> pl.DataFrame:
    """One row per employee employed at least one day of ``period``.

    Columns (see :data:`ROSTER_SCHEMA`): employee_id, full_name, department, role, currency,
    manager_id (null when the dataset has none), bonus_target (row in force on the last employed
    day), last_employed_day, days_employed, fte_days (Σ over the period's days of the fte in force
    that day), days_in_period. Sorted by employee_id.
    """
    lf = employees.lazy()
    cols = lf.collect_schema().names()
    if "effective_to" not in cols:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Date).alias("effective_to"))
    if "manager_id" not in cols:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Utf8).alias("manager_id"))

    one_day = dt.timedelta(days=1)
    rows = (
        lf.select(
            "employee_id", "full_name", "department", "role", "currency", "manager_id",
            pl.col("fte").cast(pl.Decimal(38, 9)),
            pl.col("bonus_target").cast(pl.Decimal(18, 2)),
            pl.col("effective_from").cast(pl.Date),
            pl.col("effective_to").cast(pl.Date),
        )
        .sort("employee_id", "effective_from")
        .with_columns(
            # open row: until the day before the employee's next effective_from (or forever)
            pl.coalesce(
                pl.col("effective_to"),
                pl.col("effective_from").shift(-1).over("employee_id") - one_day,
                pl.lit(period.end),
            ).alias("_to")
        )
        # clip each row to the period; rows that miss it (or are empty) drop out
        .with_columns(
            pl.max_horizontal(pl.col("effective_from"), pl.lit(period.start)).alias("_lo"),
            pl.min_horizontal(pl.col("_to"), pl.lit(period.end)).alias("_hi"),
        )
        .filter(pl.col("_lo") <= pl.col("_hi"))
    )
    # Expand to (employee, day) and keep, for each day, the row with the latest effective_from. Rows are
    # numbered in (employee_id, effective_from) order, so that row is the day's highest number: the
    # expansion carries two integers per day, never the row's strings or decimals.
    rows = rows.with_row_index("_r").with_columns(pl.col("employee_id").rle_id().alias("_e"))
    winners = (
        rows.select("_e", "_r", pl.date_ranges("_lo", "_hi", interval="1d").alias("_day"))
        .explode("_day")
        .group_by("_e", "_day")
        .agg(pl.col("_r").max())
    )
    per_row = winners.group_by("_r").agg(pl.len().alias("_days"), pl.col("_day").max().alias("_last"))
    out = (
        rows.join(per_row, on="_r", how="inner")
        .sort("_r")
        .group_by("employee_id")
        .agg(
            pl.col("full_name", "department", "role", "currency", "manager_id", "bonus_target").sort_by("_last").last(),
            pl.col("_last").max().alias("last_employed_day"),
            pl.col("_days").sum().cast(pl.Int64).alias("days_employed"),
            (pl.col("fte") * pl.col("_days")).sum().cast(pl.Decimal(38, 9)).alias("fte_days"),
        )
        .with_columns(pl.lit(period.days, dtype=pl.Int64).alias("days_in_period"))
        .select(list(ROSTER_SCHEMA))
        .sort("employee_id")
        .collect()
    )
    return out.cast(ROSTER_SCHEMA)
