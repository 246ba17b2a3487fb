"""The nightly job: ingest + evaluate + publish, as one parent flow holding the home's writer lock."""

from __future__ import annotations

from dataclasses import dataclass

from flows.common import writing_run
from flows.engine import flow
from flows.evaluate import EvaluationSummary, evaluate_flow
from flows.ingest import ingest_flow
from flows.publish import publish_flow
from schemas.plan import PlanSet
from warehouse.home import Home
from warehouse.load import LedgerEntry


@dataclass
class RunResult:
    ingested: list[LedgerEntry]
    evaluation: EvaluationSummary
    published: dict[str, int]


@flow(name="orbit-run", persist_result=False)
def run_flow(home: Home, plans: PlanSet, periods: list[str] | None = None) -> RunResult:
    with writing_run(home, "run"):
        ingested = ingest_flow(home, plans, announce=False)  # evaluated and published right here
        evaluation = evaluate_flow(home, plans, periods)
        published = publish_flow(home)
    return RunResult(ingested, evaluation, published)
