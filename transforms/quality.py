"""Data-quality findings of the evaluation: references between datasets that do not resolve.

Files arrive in any order, so orphans are kept at ingest and reported here.
"""

from __future__ import annotations

import polars as pl

from schemas.marts import frame_schema

#: data_quality's declared columns (schemas/marts.py) without the run stamp.
SCHEMA = frame_schema("data_quality")


def _orphans(frame: pl.DataFrame, column: str, known: pl.Series, check: str, dataset: str) -> pl.DataFrame:
    values = frame.get_column(column).drop_nulls()
    missing = values.filter(~values.is_in(known.implode()))
    examples = ", ".join(missing.unique().sort().head(5).to_list())
    return pl.DataFrame([{"period": None, "check": check, "dataset": dataset, "rows": missing.len(),
                          "examples": examples}], schema=SCHEMA)


def find_orphans(frames: dict[str, pl.DataFrame], metrics: list[str]) -> pl.DataFrame:
    """One row per referential check with the number of rows that fail it (0 rows = passed)."""
    employees = frames["employees"]["employee_id"].unique()
    opportunities = frames["opportunities"]["opportunity_id"].unique()
    checks = [
        _orphans(frames["activities"], "employee_id", employees, "unknown_employee", "activities"),
        _orphans(frames["activities"], "opportunity_id", opportunities, "unknown_opportunity", "activities"),
        _orphans(frames["opportunities"], "owner_employee_id", employees, "unknown_owner", "opportunities"),
        _orphans(frames["measurements"], "employee_id", employees, "unknown_employee", "measurements"),
        _orphans(frames["feedback"], "employee_id", employees, "unknown_employee", "feedback"),
        _orphans(frames["targets"], "employee_id", employees, "unknown_employee", "targets"),
        _orphans(frames["targets"], "metric", pl.Series(metrics, dtype=pl.Utf8), "unknown_plan_metric", "targets"),
        _orphans(frames["employees"], "manager_id", employees, "unknown_manager", "employees"),
    ]
    return pl.concat(checks)
