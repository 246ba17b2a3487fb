"""Orbit's Prefect deployments (what `orbit serve` serves) and the flows their schedule and triggers run.

- ``nightly``: `orbit run` (ingest every new file, evaluate, publish) on a cron in the plan's timezone.
- ``ingest-on-arrival``: an ``orbit.landing.file.arrived`` event (sent to the server by whatever
  delivers files; `orbit serve`'s own watcher runs the same flow in its process, without the
  event round trip: :class:`orbit.serve.ArrivalWorker`) ingests that file — and every other file waiting that is
  complete, in ledger order, so a burst becomes one run — re-evaluates the periods they touch and
  publishes a new snapshot, all in one run.
- ``evaluate-on-change``: an ``orbit.dataset.updated`` event (emitted by an ingestion that does not
  evaluate itself, e.g. `orbit ingest` against this server, with the periods the new rows touch)
  re-evaluates those periods and publishes a new snapshot.

Deployment parameters are plain text (the ORBIT_HOME folder and the plan path), so runs can be
started from the UI too. Every run here writes the warehouse: it holds the home's writer lock
(see :func:`flows.common.writing_run`) and records a failure in ``run_failures``. The events carry
the ``orbit.home`` resource label, and the triggers match it, so several ORBIT_HOMEs can share one
Prefect server.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow

from flows.common import run_logger, writing_run
from flows.engine import direct
from flows.evaluate import evaluate_flow
from flows.events import DATASET_UPDATED, FILE_ARRIVED, home_label
from flows.ingest import find_touched_periods, ingest_flow
from flows.publish import publish_flow
from flows.run import run_flow
from schemas.plan import PlanSet
from warehouse.home import Home

NIGHTLY_CRON = "0 2 * * *"  # 02:00 in the plan's timezone
#: flow name/deployment name, as the Prefect API and UI show them (nightly first).
DEPLOYMENT_NAMES = ("orbit-nightly/nightly", "orbit-ingest-file/ingest-on-arrival",
                    "orbit-evaluate-change/evaluate-on-change")


@flow(name="orbit-nightly", persist_result=False)
def nightly_flow(orbit_home: str, plan: str) -> None:
    """`orbit run`: ingest every new file, evaluate, publish."""
    run_flow(Home.from_env(orbit_home), PlanSet.load(Path(plan)))


@flow(name="orbit-ingest-file", persist_result=False)
def ingest_file_flow(file: str, orbit_home: str, plan: str) -> None:
    """Ingest a delivered file (``<dataset>/<name>``, relative to landing/) with every file waiting before
    it and every complete one after it, re-evaluate the periods they touch and publish — one run.

    Files must be applied in ledger order (the newest delivery of a key wins), and Prefect does not
    promise to create triggered runs in the order of their events: so every file delivered *before*
    this one and not yet ingested is ingested first, in this run. Files delivered *after* it that are
    complete too (:func:`warehouse.landing.looks_complete`) are taken along, up to the first one that
    is not, so a burst of deliveries is ingested, evaluated and published by the first run that gets
    the writer lock; the runs of the other files then find nothing to do.
    """
    home = Home.from_env(orbit_home)
    plans = PlanSet.load(Path(plan))
    # the steps run as plain calls inside this one flow run (its log holds theirs): a sub-flow or task run
    # per step and per file costs ~0.3-1 s each, which is most of an arrival's latency
    with writing_run(home, "ingest"), direct():
        entries = ingest_flow(home, plans, files=waiting_files(home, file), announce=False)
        if not entries:
            run_logger().info("%s: already ingested or gone; nothing to do", file)
            return
        loaded = [e for e in entries if e.status == "loaded" and e.dataset]
        touched = find_touched_periods(home, plans, [e.file for e in loaded], [e.dataset for e in loaded]) if loaded else {}
        if any(periods is None for periods in touched.values()):
            evaluate_flow(home, plans, None)
        elif touched:
            evaluate_flow(home, plans, sorted({p for periods in touched.values() for p in periods}))
        publish_flow(home)  # the ledger and quarantine change even when no row did


def waiting_files(home: Home, file: str, now: float | None = None) -> list[str]:
    """The files an arrival run ingests, in ledger order: every landed file up to ``file``, then the later
    ones that look complete, stopping at the first that does not (never a later file before an earlier)."""
    from warehouse.landing import list_landed, looks_complete

    landed = list_landed(home.landing)
    names = [f.name for f in landed]
    if file not in names:
        return [file]
    upto = names.index(file) + 1
    now = time.time() if now is None else now
    later = []
    for f in landed[upto:]:
        if not looks_complete(f, now):
            break
        later.append(f.name)
    return names[:upto] + later


@flow(name="orbit-evaluate-change", persist_result=False)
def evaluate_change_flow(orbit_home: str, plan: str, periods: list[str] | None = None) -> None:
    """Re-evaluate the periods new data touched (all periods when ``periods`` is None) and publish."""
    home = Home.from_env(orbit_home)
    plans = PlanSet.load(Path(plan))
    with writing_run(home, "evaluate"), direct():  # plain steps, as in ingest_file_flow
        if periods is not None and already_published(home, plans, periods):
            run_logger().info("periods %s already published from the same inputs and plan", ", ".join(periods))
            return
        if periods != []:  # [] : no row changed (all duplicates or quarantined); the ledger is still published
            evaluate_flow(home, plans, periods)
        publish_flow(home)


def already_published(home: Home, plans: PlanSet, periods: list[str]) -> bool:
    """Whether the published snapshot already holds ``periods`` evaluated from the warehouse's current
    inputs and plan (same run_id): then re-evaluating would give the same rows. This folds a burst
    of arrivals into one evaluation."""
    from warehouse.db import open_warehouse
    from warehouse.read import current_run_id
    from warehouse.snapshot import published_periods

    if not home.published.exists():
        return False
    with open_warehouse(home.warehouse, read_only=True) as con:
        run_id = current_run_id(con, plans.source)
    return set(periods) <= published_periods(home.published, run_id)


def build_deployments(home: Home, plans: PlanSet, plan_file: Path, *, cron: str = NIGHTLY_CRON) -> list:
    """The three deployments of one ORBIT_HOME, ready for ``prefect.serve`` (or ``.apply()``)."""
    from prefect.events import DeploymentEventTrigger
    from prefect.schedules import Cron

    params = {"orbit_home": str(home.root), "plan": str(Path(plan_file).resolve())}
    scope = home_label(home)
    return [
        nightly_flow.to_deployment(
            "nightly", parameters=params, schedules=[Cron(cron, timezone=plans.base.timezone)], paused=False,
            description=f"orbit run at {cron!r} (cron) in {plans.base.timezone}"),
        ingest_file_flow.to_deployment(
            "ingest-on-arrival", parameters=params, description="ingest a file as soon as it is complete",
            triggers=[DeploymentEventTrigger(
                name="landing file arrived", expect={FILE_ARRIVED}, match=scope,
                parameters={"file": "{{ event.payload.file }}"})]),
        evaluate_change_flow.to_deployment(
            "evaluate-on-change", parameters=params,
            description="re-evaluate the periods an ingestion touched and publish",
            triggers=[DeploymentEventTrigger(
                name="dataset updated", expect={DATASET_UPDATED}, match=scope,
                parameters={"periods": "{{ event.payload.periods }}"})]),
    ]
