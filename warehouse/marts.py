"""Writing the evaluation's marts: a period's rows are replaced as a whole, in one transaction.

A closed period's rows are never replaced here, except by its restatement (reopen), which
writes the new rows, the per-employee ``restatements`` and an audit row together.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import polars as pl

from schemas.marts import ColumnMismatch, frame_columns, frame_schema
from transforms.restatement import Restatement
from warehouse.audit import append_audit
from warehouse.db import insert_rows, transaction
from warehouse.periods import (
    closed_run_ids,
    inputs_digest,
    insert_restatements,
    mark_evaluated,
    record_run_inputs,
    reopen_period,
    set_pending,
)

log = logging.getLogger(__name__)

#: mart -> the frame attribute that fills it (see transforms.evaluation.PeriodResult). A frame that fills
#: several marts (``scores``: the public scores and the private bonus lines) carries exactly the union of
#: their declared columns, and each mart takes its own.
MART_SOURCES = {
    "evaluation_matrix": "matrix",
    "employee_scores": "scores",
    "bonus_lines": "scores",
    "attribution_credits": "credits",
    "attribution_department_values": "department_values",
    "department_matrix": "department_matrix",
    "revenue_funnel": "funnel",
}


def _sources() -> dict[str, list[str]]:
    by_attr: dict[str, list[str]] = {}
    for table, attr in MART_SOURCES.items():
        by_attr.setdefault(attr, []).append(table)
    return by_attr


def split_frame(frame: pl.DataFrame, tables: list[str]) -> dict[str, pl.DataFrame]:
    """Each of ``tables`` -> its declared columns of ``frame`` (without the stamps the warehouse adds).
    Raises :class:`schemas.marts.ColumnMismatch` naming the columns the frame lacks and those no table
    declares."""
    wanted, have = set(frame_schema(*tables)), set(frame.columns)
    if wanted != have:
        raise ColumnMismatch(" and ".join(tables), wanted - have, have - wanted)
    return {t: frame.select(frame_columns(t)) for t in tables}


def write_period_marts(con: duckdb.DuckDBPyConnection, results, *, run_id: str, input_hashes: list[str],
                       quality: pl.DataFrame, started_at: dt.datetime, pending: dict[str, bool] | None = None,
                       restatements: list[Restatement] = ()) -> list[str]:
    """Replace the marts of the evaluated open periods (and of the periods being restated), flag closed
    periods that new data would change, store the data-quality findings and log the run — atomically.
    Returns the periods written."""
    now = dt.datetime.now(dt.timezone.utc)
    restating = {r.period: r for r in restatements}
    written = []
    with transaction(con):
        closed = set(closed_run_ids(con))  # read again inside the transaction: a close may have happened since
        for r in results:
            label = r.period.label
            if label in closed and label not in restating:
                if label not in (pending or {}):
                    log.warning("period %s was closed while it was being evaluated; its results are kept", label)
                continue
            stamps = {"plan_version": r.plan.version, "run_id": run_id}
            for attr, tables in _sources().items():
                for table, frame in split_frame(getattr(r, attr), tables).items():
                    con.execute(f'DELETE FROM "{table}" WHERE period = ?', [label])
                    insert_rows(con, table, frame.with_columns(**{k: pl.lit(v, dtype=pl.Utf8)
                                                                  for k, v in stamps.items()}))
            written.append(label)
        for r in restatements:
            reopen_period(con, r.period, expected_run_id=r.closed_run_id)
            insert_restatements(con, r.rows)
            append_audit(con, "reopen_period", period=r.period, run_id=run_id,
                         plan_version=",".join(sorted({x.plan.version for x in results if x.period.label == r.period})),
                         input_hashes=inputs_digest(input_hashes),
                         detail=f"reason: {r.reason}; closed run {r.closed_run_id}; "
                                f"{r.changed} of {r.rows.height} employee(s) restated")
        mark_evaluated(con, written, {r.period.label: r.coverage for r in results
                                      if getattr(r, "coverage", None) is not None})
        set_pending(con, pending or {}, now)
        record_run_inputs(con, run_id, input_hashes)
        con.execute("DELETE FROM data_quality")
        insert_rows(con, "data_quality", quality.with_columns(run_id=pl.lit(run_id, dtype=pl.Utf8)))
        con.execute(
            "INSERT INTO runs (run_id, kind, started_at, finished_at, status, periods, plan_version, message) "
            "VALUES (?, 'evaluate', ?, ?, 'completed', ?, ?, ?)",
            [run_id, started_at, now, ",".join(written), ",".join(sorted({r.plan.version for r in results})),
             _frozen_message(pending or {})],
        )
    return written


def _frozen_message(pending: dict[str, bool]) -> str | None:
    if not pending:
        return None
    flagged = [p for p, v in sorted(pending.items()) if v]
    return (f"closed, kept: {', '.join(sorted(pending))}"
            + (f"; pending restatement: {', '.join(flagged)}" if flagged else ""))
