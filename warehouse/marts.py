"""Writing the evaluation's marts: a period's rows are replaced as a whole, in one transaction."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from warehouse.db import transaction

#: mart -> the frame attribute that fills it (see transforms.evaluation.PeriodResult).
MART_SOURCES = {
    "evaluation_matrix": "matrix",
    "employee_scores": "scores",
    "bonus_lines": "scores",
    "attribution_credits": "credits",
    "attribution_department_values": "department_values",
    "department_matrix": "department_matrix",
}


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
        "ORDER BY ordinal_position", [table]).fetchall()]
    present = [c for c in cols if c in frame.columns]
    if frame.height == 0:
        return
    con.register("_mart", frame.select(present))
    quoted = ", ".join(f'"{c}"' for c in present)
    con.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM _mart")
    con.unregister("_mart")


def write_period_marts(con: duckdb.DuckDBPyConnection, results, *, run_id: str, quality: pl.DataFrame,
                       started_at: dt.datetime) -> None:
    """Replace the marts of every evaluated period, the data-quality findings and log the run — atomically."""
    with transaction(con):
        for r in results:
            extra = {"plan_version": r.plan.version, "run_id": run_id}
            for table, attr in MART_SOURCES.items():
                con.execute(f"DELETE FROM {table} WHERE period = ?", [r.period.label])
                frame = getattr(r, attr).with_columns(**{k: pl.lit(v) for k, v in extra.items()})
                _insert(con, table, frame)
        con.execute("DELETE FROM data_quality")
        _insert(con, "data_quality", quality.with_columns(run_id=pl.lit(run_id)))
        con.execute(
            "INSERT INTO runs VALUES (?, 'evaluate', ?, ?, 'completed', ?, ?, NULL)",
            [run_id, started_at, dt.datetime.now(dt.timezone.utc), ",".join(r.period.label for r in results),
             ",".join(sorted({r.plan.version for r in results}))],
        )
