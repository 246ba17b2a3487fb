"""Evaluate flow: scores, matrices and attribution for every period (or the ones asked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flows.common import content_hash, plan_bytes, run_logger
from flows.engine import NO_CACHE, flow, task
from schemas.plan import PlanSet
from transforms.coverage import data_extent, no_data_message
from transforms.evaluation import EVALUATION_COLUMNS, PeriodResult, evaluate_period, find_periods
from transforms.periods import check_period_kind
from transforms.quality import find_problems, unknown_types, unused_plan_activity_types
from transforms.restatement import compare_figures, has_changes, restate_period
from warehouse import clock
from warehouse.db import open_warehouse
from warehouse.home import Home
from warehouse.marts import Restatement, write_period_marts
from warehouse.periods import PeriodStateError, closed_periods
from warehouse.read import input_hashes, latest_activity_at, load_frames

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


@task(retries=2, retry_delay_seconds=[1, 5], **_TASK)
def load_inputs(home: Home):
    with open_warehouse(home.warehouse) as con:
        return load_frames(con, EVALUATION_COLUMNS), input_hashes(con), latest_activity_at(con), closed_periods(con)


@task(**_TASK)
def evaluate_one(plan, period, frames, as_of, today) -> PeriodResult:
    return evaluate_period(plan, period, frames, as_of, today=today)


@task(retries=2, retry_delay_seconds=[1, 5], **_TASK)
def write_results(home: Home, results, run_id: str, hashes: list[str], quality, started_at, pending,
                  restatements) -> list[str]:
    with open_warehouse(home.warehouse) as con:
        return write_period_marts(con, results, run_id=run_id, input_hashes=hashes, quality=quality,
                                  started_at=started_at, pending=pending, restatements=restatements)


def make_run_id(hashes: list[str], plans: PlanSet) -> str:
    """Same input files and plan content -> same run_id."""
    files = [plans.source] if plans.source.is_file() else sorted(plans.source.glob("*.y*ml"))
    return content_hash(*hashes, plan_bytes(files))[:32]


def compare_closed(results, closed, restate: dict[str, str], run_id: str, at: dt.datetime):
    """For each closed period evaluated: pending restatement or not, or (when it is being reopened) its
    restatement rows."""
    pending, restatements = {}, []
    for r in results:
        frozen = closed.get(r.period.label)
        if frozen is None:
            continue
        comparison = compare_figures(frozen.figures, r.scores)
        reason = restate.get(r.period.label)
        if reason is None:
            pending[r.period.label] = has_changes(comparison)
            continue
        rows = restate_period(comparison, period=r.period.label, old_run_id=frozen.run_id, new_run_id=run_id,
                              reason=reason, restated_at=at)
        restatements.append(Restatement(r.period.label, frozen.run_id, reason, rows, int(comparison["changed"].sum())))
    return pending, restatements


@flow(name="orbit-evaluate", persist_result=False)
def evaluate_flow(home: Home, plans: PlanSet, periods: list[str] | None = None,
                  restate: dict[str, str] | None = None, today: dt.date | None = None) -> EvaluationSummary:
    """Evaluate open periods. A closed period keeps its results: it is only compared with what the new data
    gives, and flagged pending restatement when they differ — unless it is in ``restate`` (period -> reason),
    which reopens it with the new results and per-employee restatement rows. ``periods`` asked for must be
    of the plan's kind; a period without data is skipped (never written as a period of all-incomplete
    employees). ``today`` (default:
    :func:`warehouse.clock.today`) decides which periods have not ended (partial)."""
    logger = run_logger()
    started = dt.datetime.now(dt.timezone.utc)
    frames, hashes, as_of, closed = load_inputs(home)
    run_id = make_run_id(hashes, plans)
    restate = restate or {}
    for label in set(restate) - set(closed):
        raise PeriodStateError(f"period {label} is not closed; only a closed period is reopened")
    base = plans.base
    today = today or clock.today(base.timezone)
    wanted = ([check_period_kind(p, base.period) for p in periods] if periods
              else find_periods(frames, base.timezone, base.period))
    extent = data_extent(frames)
    results, skipped = [], []
    for period in wanted:
        if not data_extent(frames, period.start_utc(base.timezone), period.end_utc(base.timezone))[0]:
            # nothing to evaluate: a period touched only through a window or a target, or a gap in the data
            # (`orbit evaluate --period P` refuses such a period before it starts)
            logger.info("%s; not evaluated", no_data_message(period.label, extent, base.timezone))
            skipped.append(period.label)
            continue
        plan = plans.for_period_start(period.start)
        if plan is None:
            logger.warning("no plan in force on %s; period %s not evaluated", period.start, period.label)
            skipped.append(period.label)
            continue
        results.append(evaluate_one.submit(plan, period, frames, as_of, today))
    # periods are independent: submitted, they run in parallel under the flow's task runner (threads by
    # default, Dask workers with `evaluate_flow.with_options(task_runner=DaskTaskRunner(...))`)
    results = [future.result() for future in results]
    pending, restatements = compare_closed(results, closed, restate, run_id, started)
    for label in set(restate) - {r.period for r in restatements}:
        raise PeriodStateError(f"period {label} could not be recomputed (no plan in force); it stays closed")
    quality = find_problems(frames, plans)
    in_force = list({id(r.plan): r.plan for r in results}.values())
    unknown = [u.message() for u in unknown_types(quality, in_force)]
    unused = unused_plan_activity_types(frames["activities"], in_force)
    for line in unknown + unused:
        logger.warning("%s", line)
    written = write_results(home, results, run_id, hashes, quality, started, pending, restatements)
    flagged = sorted(p for p, v in pending.items() if v)
    if flagged:
        logger.warning("closed period(s) %s kept; the new data would change them (pending restatement)",
                       ", ".join(flagged))
    logger.info("evaluated %d period(s), run %s", len(written), run_id[:12])
    return EvaluationSummary(run_id, written, skipped, sorted(pending), flagged, [r.period for r in restatements],
                             unknown, unused)
