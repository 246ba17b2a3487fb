"""Evaluate flow: scores, matrices and attribution for every period (or the ones asked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import content_hash, plan_bytes, run_logger
from orbit.settings import Home
from schemas.plan import PlanSet
from transforms.evaluation import PeriodResult, evaluate_period, find_periods
from transforms.periods import parse_period
from transforms.quality import find_orphans
from warehouse.db import open_warehouse
from warehouse.marts import write_period_marts
from warehouse.read import input_hashes, latest_activity_at, load_frames

_TASK = dict(persist_result=False, cache_policy=NO_CACHE)


@dataclass
class EvaluationSummary:
    run_id: str
    periods: list[str]
    skipped: list[str]


@task(retries=2, retry_delay_seconds=[1, 5], **_TASK)
def load_inputs(home: Home):
    with open_warehouse(home.warehouse) as con:
        return load_frames(con), input_hashes(con), latest_activity_at(con)


@task(**_TASK)
def evaluate_one(plan, period, frames, as_of) -> PeriodResult:
    return evaluate_period(plan, period, frames, as_of)


@task(retries=2, retry_delay_seconds=[1, 5], **_TASK)
def write_results(home: Home, results, run_id: str, quality, started_at) -> None:
    with open_warehouse(home.warehouse) as con:
        write_period_marts(con, results, run_id=run_id, quality=quality, started_at=started_at)


def make_run_id(hashes: list[str], plans: PlanSet) -> str:
    """Same input files and plan content -> same run_id."""
    files = [plans.source] if plans.source.is_file() else sorted(plans.source.glob("*.y*ml"))
    return content_hash(*hashes, plan_bytes(files))[:32]


@flow(name="orbit-evaluate", persist_result=False)
def evaluate_flow(home: Home, plans: PlanSet, periods: list[str] | None = None) -> EvaluationSummary:
    logger = run_logger()
    started = dt.datetime.now(dt.timezone.utc)
    frames, hashes, as_of = load_inputs(home)
    run_id = make_run_id(hashes, plans)
    base = plans.base
    wanted = [parse_period(p) for p in periods] if periods else find_periods(frames, base.timezone, base.period)
    results, skipped = [], []
    for period in wanted:
        if period.kind != base.period:
            raise ValueError(f"period {period.label} is a {period.kind}; this plan evaluates by {base.period}")
        plan = plans.for_period_start(period.start)
        if plan is None:
            logger.warning("no plan in force on %s; period %s not evaluated", period.start, period.label)
            skipped.append(period.label)
            continue
        results.append(evaluate_one(plan, period, frames, as_of))
    quality = find_orphans(frames, sorted({m for p in plans.plans for m in p.metrics}))
    write_results(home, results, run_id, quality, started)
    logger.info("evaluated %d period(s), run %s", len(results), run_id[:12])
    return EvaluationSummary(run_id, [r.period.label for r in results], skipped)
