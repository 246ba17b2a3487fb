"""Reading the published ``revenue_funnel`` of one period (for `orbit diagnose` and the report).

The funnel is company-wide (no person's name or money), so it is read from the analysts' snapshot:
never from the warehouse, so it never waits for (or blocks) a writing run.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from warehouse.db import connect, query_frame


class FunnelNotFound(LookupError):
    """Nothing published for that period (the message lists the periods there are)."""


def funnel_rows(con, period: str) -> pl.DataFrame:
    """The period's ``revenue_funnel`` rows in funnel order, from an open connection (snapshot or warehouse)."""
    return query_frame(con, "SELECT * FROM revenue_funnel WHERE period = ? ORDER BY step", [period])


def read_published_funnel(snapshot: Path, period: str) -> pl.DataFrame:
    """The period's funnel from the published snapshot; :class:`FunnelNotFound` when there is none."""
    if not Path(snapshot).exists():
        raise FunnelNotFound(f"nothing published yet ({snapshot} is missing); run `orbit run` (or `orbit demo`)")
    con = connect(snapshot, read_only=True)
    try:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "revenue_funnel" not in tables:
            raise FunnelNotFound(f"{snapshot} has no revenue_funnel yet; run `orbit run` to publish one")
        rows = funnel_rows(con, period)
        if rows.height == 0:
            known = [p for (p,) in con.execute("SELECT DISTINCT period FROM revenue_funnel ORDER BY 1").fetchall()]
            raise FunnelNotFound(f"no revenue funnel for {period}; periods published: "
                                 f"{', '.join(known) or 'none'}")
        return rows
    finally:
        con.close()


def _has_column(con, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
                            [table, column]).fetchall()[0][0])


def published_funnel(con, period: str) -> pl.DataFrame | None:
    """The period's funnel from an open snapshot connection; None when the snapshot has no revenue_funnel."""
    return funnel_rows(con, period) if _has_column(con, "revenue_funnel", "period") else None


def missing_data_rows(con, period: str) -> pl.DataFrame | None:
    """How many employees of the period a missing metric changed, per department, metric, reason and what the
    plan did (no employee ids: the report is an aggregate); ``flagged`` repeats the period's total of employees
    with ``missing_policy`` set. None when the snapshot predates the missing-data policy."""
    if not _has_column(con, "employee_scores", "missing_policy"):
        return None
    return query_frame(con, """
        SELECT m.department, m.metric, m.reason, m.when_missing, count(DISTINCT m.employee_id) AS employees,
               (SELECT count(*) FROM employee_scores WHERE period = ? AND missing_policy IS NOT NULL) AS flagged
        FROM evaluation_matrix m JOIN employee_scores s USING (period, employee_id)
        WHERE m.period = ? AND m.when_missing IS NOT NULL AND s.missing_policy IS NOT NULL
        GROUP BY ALL ORDER BY m.department, m.metric, m.reason, m.when_missing""", [period, period])
