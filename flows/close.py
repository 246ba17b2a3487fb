"""Period close and reopen: freeze a period's results on one run; restate it with the data known now."""

from __future__ import annotations

import datetime as dt
import getpass

from flows.common import run_logger, writing_run
from flows.engine import NO_CACHE, flow, task
from flows.evaluate import EvaluationSummary, evaluate_flow
from flows.publish import publish_flow
from schemas.plan import PlanSet
from warehouse import clock
from warehouse.db import open_warehouse
from warehouse.home import Home
from warehouse.periods import close_period_audited


@task(persist_result=False, cache_policy=NO_CACHE)  # not retried: a refusal (already closed) is not I/O
def freeze_period(home: Home, period: str, user: str, today: dt.date, allow_partial: bool,
                  reason: str | None) -> str:
    with open_warehouse(home.warehouse) as con:
        return close_period_audited(con, period, user=user, at=dt.datetime.now(dt.timezone.utc), today=today,
                                    allow_partial=allow_partial, reason=reason)


@flow(name="orbit-close", persist_result=False)
def close_flow(home: Home, period: str, allow_partial: bool = False, reason: str | None = None,
               today: dt.date | None = None) -> str:
    """Freeze ``period`` on the run that produced its current results, publish; return that run_id. A partial
    period (not ended by ``today`` — default :func:`warehouse.clock.today` in UTC — or data not covering it)
    is refused unless ``allow_partial`` with a ``reason``, which the audit row records."""
    reason = (reason or "").strip() or None
    if allow_partial and not reason:
        raise ValueError("closing a partial period needs a reason (--reason TEXT)")
    today = today or clock.today("UTC")
    with writing_run(home, "close"):
        run_id = freeze_period(home, period, getpass.getuser(), today, allow_partial, reason)
        run_logger().info("period %s closed on run %s", period, run_id[:12])
        publish_flow(home)
    return run_id


@flow(name="orbit-reopen", persist_result=False)
def reopen_flow(home: Home, plans: PlanSet, period: str, reason: str) -> EvaluationSummary:
    """Recompute a closed period with the data known now, record per employee what changed (``restatements``),
    leave it open (HR closes it again) and publish."""
    if not reason.strip():
        raise ValueError("a reopen needs a reason (--reason TEXT)")
    with writing_run(home, "reopen"):
        summary = evaluate_flow(home, plans, [period], restate={period: reason.strip()})
        publish_flow(home)
    return summary
