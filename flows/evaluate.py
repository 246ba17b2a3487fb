"""Evaluate flow: scores, matrices and attribution for every period (or the ones asked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flows.common import run_logger
from flows.engine import NO_CACHE, flow, task
from flows.retry import IO_RETRIES
from schemas.plan import PlanSet
from transforms.evaluation import EVALUATION_COLUMNS, PeriodResult, evaluate_period
from transforms.quality import find_problems, unknown_types, unused_plan_activity_types
from transforms.restatement import check_restate, compare_closed
from transforms.runs import plan_periods
from warehouse import clock
from warehouse.db import open_warehouse
from warehouse.home import Home
from warehouse.marts import write_period_marts
from warehouse.periods import closed_periods
from warehouse.read import current_run_id, input_hashes, latest_activity_at, load_frames

_TASK = dict(persist_result=False, cache_policy=NO_CACHE)


@dataclass
class EvaluationSummary:
    run_id: str
    periods: list[str]  # written
    skipped: list[str]  # no data, or no plan in force
    kept: list[str]  # closed: results frozen
    pending: list[str]  # closed, and the new data would change them (pending restatement)
    restated: list[str]  # reopened with a restatement
    unknown_activity_types: list[str] = field(default_factory=list)  # types that pay nothing, one line each
    unused_activity_types: list[str] = field(default_factory=list)  # plan types no loaded activity carries


@dataclass
class Inputs:
    frames: dict
    hashes: list[str]
    run_id: str
    as_of: dt.datetime | None
    closed: dict


@task(**IO_RETRIES, **_TASK)
def load_inputs(home: Home, plans: PlanSet) -> Inputs:
    with open_warehouse(home.warehouse) as con:
        return Inputs(load_frames(con, EVALUATION_COLUMNS), input_hashes(con), current_run_id(con, plans.source),
                      latest_activity_at(con), closed_periods(con))


@task(**_TASK)
def evaluate_one(plan, period, frames, as_of, today) -> PeriodResult:
    return evaluate_period(plan, period, frames, as_of, today=today)


@task(**IO_RETRIES, **_TASK)
def write_results(home: Home, results, run_id: str, hashes: list[str], quality, started_at, pending,
                  restatements) -> list[str]:
    with open_warehouse(home.warehouse) as con:
        return write_period_marts(con, results, run_id=run_id, input_hashes=hashes, quality=quality,
                                  started_at=started_at, pending=pending, restatements=restatements)


@flow(name="orbit-evaluate", persist_result=False)
def evaluate_flow(home: Home, plans: PlanSet, periods: list[str] | None = None,
                  restate: dict[str, str] | None = None, today: dt.date | None = None) -> EvaluationSummary:
    """Evaluate open periods. A closed period keeps its results: it is only compared with what the new data
    gives, and flagged pending restatement when they differ — unless it is in ``restate`` (period -> reason),
    which reopens it with the new results and per-employee restatement rows. ``periods`` asked for must be
    of the plan's kind (else ValueError); a period without data is skipped (never written as a period of
    all-incomplete employees; :func:`transforms.runs.plan_periods`). ``today`` (default:
    :func:`warehouse.clock.today`) decides which periods have not ended (partial)."""
    logger = run_logger()
    started = dt.datetime.now(dt.timezone.utc)
    inputs = load_inputs(home, plans)
    restate = restate or {}
    check_restate(restate, inputs.closed)
    today = today or clock.today(plans.base.timezone)
    planned, skipped = plan_periods(plans, periods, inputs.frames)
    for _, why in skipped:
        logger.info("%s; not evaluated", why)
    # periods are independent: submitted, they run in parallel under the flow's task runner (threads by
    # default, Dask workers with `evaluate_flow.with_options(task_runner=DaskTaskRunner(...))`)
    futures = [evaluate_one.submit(plan, period, inputs.frames, inputs.as_of, today) for plan, period in planned]
    results = [future.result() for future in futures]
    pending, restatements = compare_closed(results, inputs.closed, restate, inputs.run_id, started)
    quality = find_problems(inputs.frames, plans)
    in_force = list({id(r.plan): r.plan for r in results}.values())
    unknown = [u.message() for u in unknown_types(quality, in_force)]
    unused = unused_plan_activity_types(inputs.frames["activities"], in_force)
    for line in unknown + unused:
        logger.warning("%s", line)
    written = write_results(home, results, inputs.run_id, inputs.hashes, quality, started, pending, restatements)
    flagged = sorted(p for p, v in pending.items() if v)
    if flagged:
        logger.warning("closed period(s) %s kept; the new data would change them (pending restatement)",
                       ", ".join(flagged))
    logger.info("evaluated %d period(s), run %s", len(written), inputs.run_id[:12])
    return EvaluationSummary(inputs.run_id, written, [label for label, _ in skipped], sorted(pending), flagged,
                             [r.period for r in restatements], unknown, unused)
