"""What `orbit report` shows: one period's marts from the published snapshot, shaped for the page
(:mod:`transforms.report`), departments and metrics by the plan's labels. Read-only, so it never waits for
(or blocks) a writing run, and never sees names or per-person money. :mod:`orbit.report` draws the page.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import polars as pl

from schemas.plan import PlanSet, readable
from transforms import report as shape
from transforms.periods import parse_period
from warehouse.db import connect, query_frame
from warehouse.funnel import missing_data_rows, published_funnel


class ReportError(Exception):
    """The report cannot be made (bad period, nothing published): exit 2 with the message."""


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, already shaped (see :mod:`transforms.report`)."""

    period: str
    snapshot: Path
    published_at: dt.datetime
    plan_versions: list[str]
    run_ids: list[str]
    model: str | None
    currency: str | None
    achievement: pl.DataFrame
    contribution: pl.DataFrame
    cross_area: tuple[Decimal, Decimal]
    composites: pl.DataFrame
    departments: pl.DataFrame
    quality: pl.DataFrame
    reasons: pl.DataFrame
    orphans: pl.DataFrame
    funnel: pl.DataFrame | None = None  # revenue_funnel rows (None: not published)
    missing: pl.DataFrame | None = None  # employees whose result a missing metric changed
    start: dt.date | None = None  # the period's first and last day
    end: dt.date | None = None
    status: tuple[tuple[str, str], ...] = ()  # (css class, words): open / closed / pending / partial / data days


def _open_snapshot(snapshot: Path):
    """A read-only connection and the identity of the file it opened (the publisher swaps files atomically)."""
    for _ in range(5):
        try:
            before = os.stat(snapshot)
        except FileNotFoundError:
            raise ReportError(
                f"nothing published yet ({snapshot} is missing); run `orbit run` (or `orbit demo`)") from None
        con = connect(snapshot, read_only=True)
        after = os.stat(snapshot)
        if after.st_ino == before.st_ino:
            return con, dt.datetime.fromtimestamp(int(before.st_mtime), dt.timezone.utc)
        con.close()  # swapped while opening: open the new one
    raise ReportError(f"{snapshot} keeps being replaced; try again when publishing has finished")


def read_report_data(snapshot: Path, period: str, plans: PlanSet | None = None) -> ReportData:
    """One period's marts from the published snapshot, shaped for the page; departments and metrics by the
    labels of the plan in force for the period (``plans``; the ids made readable without one)."""
    con, published_at = _open_snapshot(snapshot)
    try:
        periods = [p for (p,) in con.execute("SELECT DISTINCT period FROM employee_scores ORDER BY period").fetchall()]
        if period not in periods:
            available = ", ".join(periods) if periods else "none (run `orbit run` to evaluate and publish)"
            raise ReportError(f"no results for period {period} in {snapshot}. Periods available: {available}")
        p = [period]
        meta = con.execute("SELECT list(DISTINCT plan_version ORDER BY plan_version), "
                           "list(DISTINCT run_id ORDER BY run_id) FROM employee_scores WHERE period = ?", p).fetchall()
        currencies = [c for (c,) in con.execute("SELECT DISTINCT currency FROM opportunities").fetchall()]
        contribution = query_frame(con, "SELECT * FROM contribution_by_department WHERE period = ?", p)
        data = ReportData(
            period=period, snapshot=snapshot, published_at=published_at,
            plan_versions=meta[0][0], run_ids=meta[0][1],
            model=contribution["model"].min(),
            currency=currencies[0] if len(currencies) == 1 else None,
            achievement=shape.pivot_achievement(
                query_frame(con, "SELECT * FROM department_matrix WHERE period = ?", p)),
            contribution=shape.summarise_contribution(contribution),  # refuses several models
            cross_area=shape.measure_cross_area_share(contribution),
            composites=shape.collect_composites(
                query_frame(con, "SELECT department, composite FROM employee_scores WHERE period = ?", p)),
            departments=shape.tabulate_departments(
                query_frame(con, "SELECT * FROM scores_by_department WHERE period = ?", p), contribution),
            quality=shape.summarise_quality(query_frame(con, "SELECT * FROM data_quality_summary")),
            reasons=shape.rank_quarantine_reasons(query_frame(
                con, "SELECT dataset, reason, count(*) AS rows FROM quarantine GROUP BY dataset, reason")),
            orphans=query_frame(
                con, 'SELECT "check", dataset, rows FROM data_quality WHERE rows > 0 '
                     'AND (period IS NULL OR period = ?) ORDER BY rows DESC, dataset, "check"', p),
        )
        data = replace(data, funnel=published_funnel(con, period), missing=missing_data_rows(con, period))
        bounds = parse_period(period)
        status = query_frame(con, "SELECT * FROM period_status WHERE period = ?", p).to_dicts() \
            if _has_table(con, "period_status") else []
        data = replace(data, start=bounds.start, end=bounds.end,
                       status=tuple(shape.period_status_words(status[0] if status else None, bounds.start,
                                                              bounds.end)))
        return _with_labels(data, plans, bounds.start)
    finally:
        con.close()


def _has_table(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
                .fetchall()[0][0])


def _with_labels(data: ReportData, plans: PlanSet | None, start: dt.date) -> ReportData:
    """Every department and metric id of the page replaced by its label for people."""
    plan = (plans.for_period_start(start) or plans.base) if plans is not None else None
    ids = set(data.departments["department"].to_list()) | set(data.composites["department"].unique().to_list()) \
        | set(data.achievement["department"].to_list()) | set(data.contribution["department"].to_list())
    metrics = {c for c in data.achievement.columns if c != "department"}
    if data.missing is not None:
        ids |= set(data.missing["department"].to_list())
        metrics |= set(data.missing["metric"].to_list())
    depts = {d: plan.department_label(d) if plan else readable(d) for d in ids}
    names = {m: plan.metric_label(m) if plan else readable(m) for m in metrics}
    return replace(
        data,
        achievement=shape.relabel_columns(shape.relabel(data.achievement, "department", depts), names),
        contribution=shape.relabel(data.contribution, "department", depts),
        composites=shape.relabel(data.composites, "department", depts),
        departments=shape.relabel(data.departments, "department", depts),
        missing=None if data.missing is None else shape.relabel(shape.relabel(data.missing, "department", depts),
                                                                "metric", names),
    )
