"""Shaping one period's published marts into what the HTML report draws.

Pure: frames of the analyst snapshot in (already limited to one period), chart-ready
frames out. Money stays Decimal (credited amounts per department, never per person);
achievements and composites become floats, since they are only drawn.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

#: The department whose own results the other departments' credit is compared with.
SALES = "sales"


def pivot_achievement(department_matrix: pl.DataFrame) -> pl.DataFrame:
    """``department_matrix`` rows -> one row per department, one Float64 column per metric (null: not weighted).

    Departments sorted by name; metrics particular to few departments first, shared ones
    (weighted in most departments, such as the commercial component) last, ties by name.
    """
    if department_matrix.height == 0:
        return pl.DataFrame(schema={"department": pl.Utf8})
    metrics = (department_matrix.group_by("metric").agg(pl.col("department").n_unique().alias("n"))
               .sort("n", "metric")["metric"].to_list())
    wide = (department_matrix.select("department", "metric", pl.col("mean_achievement").cast(pl.Float64))
            .pivot(on="metric", index="department", values="mean_achievement")
            .sort("department"))
    return wide.select("department", *metrics)


def summarise_contribution(contribution: pl.DataFrame) -> pl.DataFrame:
    """``contribution_by_department`` rows of one period -> department, credit (Decimal), credit_value
    (Float64, for drawing), share, opportunities, area (``sales`` / ``other``), largest credit first.

    A period is evaluated under one plan, so its credits come from one attribution model;
    several models would count the same won amount twice and are refused.
    """
    models = contribution["model"].unique().to_list()
    if len(models) > 1:
        raise ValueError(f"credits of several attribution models in one period: {sorted(models)}")
    return (contribution
            .select(
                "department", "credit",
                pl.col("credit").cast(pl.Float64).alias("credit_value"),
                pl.col("share").cast(pl.Float64),
                "opportunities",
                pl.when(pl.col("department") == SALES).then(pl.lit("sales")).otherwise(pl.lit("other")).alias("area"),
            )
            .sort(["credit", "department"], descending=[True, False]))


def measure_cross_area_share(contribution: pl.DataFrame) -> tuple[Decimal, Decimal]:
    """(credit earned by departments other than sales, total credit) of one period, exact."""
    credits = contribution.select("department", "credit").to_dicts()
    total = sum((r["credit"] for r in credits), Decimal(0))
    other = sum((r["credit"] for r in credits if r["department"] != SALES), Decimal(0))
    return other, total


def collect_composites(employee_scores: pl.DataFrame) -> pl.DataFrame:
    """``employee_scores`` rows -> department and composite (Float64), one row per employee, sorted.

    Only what the distribution chart needs: no employee ids travel into the report.
    """
    return (employee_scores.select("department", pl.col("composite").cast(pl.Float64))
            .sort("department", "composite"))


def tabulate_departments(scores_by_department: pl.DataFrame, contribution: pl.DataFrame) -> pl.DataFrame:
    """One row per department: employees, mean and median composite, incomplete rows, credited amount, share.

    A department with employees but no credit shows a credit of 0; one with credit but no
    evaluated employee (credit follows the department of the activity) shows 0 employees.
    """
    scores = scores_by_department.select(
        "department", "employees",
        pl.col("mean_composite").cast(pl.Float64), pl.col("median_composite").cast(pl.Float64),
        "incomplete_rows")
    credit = summarise_contribution(contribution).select("department", "credit", "share")
    table = scores.join(credit, on="department", how="full", coalesce=True)
    return table.with_columns(
        pl.col("employees").fill_null(0),
        pl.col("incomplete_rows").fill_null(0),
        pl.col("credit").fill_null(pl.lit(Decimal("0.00"), dtype=credit.schema["credit"])),
        pl.col("share").fill_null(0.0),
    ).sort("department")


def summarise_quality(data_quality_summary: pl.DataFrame) -> pl.DataFrame:
    """``data_quality_summary`` -> dataset, rows read / loaded / quarantined / duplicate (Int64),
    files rejected and the quarantined share of rows read, by dataset name."""
    counts = ["rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate", "files_rejected"]
    return (data_quality_summary.select("dataset", *[pl.col(c).cast(pl.Int64) for c in counts])
            .with_columns(
                pl.when(pl.col("rows_read") > 0)
                .then(pl.col("rows_quarantined") / pl.col("rows_read"))
                .otherwise(0.0).alias("quarantined_share"))
            .sort("dataset"))


def rank_quarantine_reasons(reasons: pl.DataFrame) -> pl.DataFrame:
    """(dataset, reason, rows) counts -> the same rows plus each reason's total, most frequent reason first."""
    return (reasons.select("reason", "dataset", pl.col("rows").cast(pl.Int64))
            .with_columns(pl.col("rows").sum().over("reason").alias("reason_rows"))
            .sort(["reason_rows", "reason", "dataset"], descending=[True, False, False]))


def relabel(frame: pl.DataFrame, column: str, labels: dict[str, str]) -> pl.DataFrame:
    """``frame`` with the ids in ``column`` replaced by their labels (an id without one is kept)."""
    if frame.height == 0 or not labels or column not in frame.columns:
        return frame
    return frame.with_columns(pl.col(column).replace(labels))


def relabel_columns(frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """``frame`` with the columns named by an id renamed to its label (the achievement grid's metrics)."""
    return frame.rename({c: labels[c] for c in frame.columns if c in labels})


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def day_text(day) -> str:
    """``2026-07-01`` -> "1 July 2026" (English month names, whatever the machine's locale)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def period_status_words(status: dict | None, start, end) -> list[tuple[str, str]]:
    """The period's status for people: (css class, words), first the state, then what qualifies it —
    pending restatement, partial and why, the days with data. ``status``: its ``period_status`` row (None
    when the snapshot has none: open)."""
    status = status or {}
    words = []
    if status.get("state") == "closed":
        when = status.get("closed_at")
        words.append(("closed", "Closed" + (f" on {day_text(when.date())}" if when else "")
                      + (f" by {status['closed_by']}" if status.get("closed_by") else "")))
        if status.get("pending_restatement"):
            since = status.get("pending_since")
            words.append(("pending", "Pending restatement: later data would change its results"
                          + (f" (since {day_text(since.date())})" if since else "")))
    else:
        words.append(("open", "Open: its results may still change"))
    if status.get("partial"):
        words.append(("partial", f"Partial: {status.get('partial_reason') or 'its data does not cover all of it'}"))
    first, last = status.get("first_data_day"), status.get("last_data_day")
    if first and last and (first, last) != (start, end):
        words.append(("data", f"Data from {day_text(first)} to {day_text(last)}"))
    return words
