"""Every employee's statement for one period: read, model, render (the caller's renderer), write owner-only,
audit — holding the warehouse's one writer slot (the audit log is written), so the figures, the files and the
audit row all come from one state of the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import run_logger, writing_run
from schemas.plan import Plan, PlanSet
from transforms.statements import Statement
from warehouse.db import open_warehouse
from warehouse.home import Home
from warehouse.statements import audit_statements, check_statements, load_statements, write_statement_files

#: (statements, plan, language) -> (employee_id, document bytes) per statement
Renderer = Callable[[Sequence[Statement], Plan, str], list[tuple[str, bytes]]]


@dataclass(frozen=True)
class StatementsSummary:
    folder: Path
    files: int
    manifest_sha256: str
    audit_row_hash: str


@task(persist_result=False, cache_policy=NO_CACHE)
def make_statements(home: Home, plans: PlanSet, period: str, employees: list[str] | None, lang: str, fmt: str,
                    draft: bool, render: Renderer) -> StatementsSummary:
    with open_warehouse(home.warehouse) as con:
        check_statements(con, period, draft)
        plan, statements = load_statements(con, plans, period, employees=employees, draft=draft)
        documents = render(statements, plan, lang)
        batch = write_statement_files(home.exports, period, documents, fmt)
        row = audit_statements(con, period, batch, draft=draft, lang=lang, fmt=fmt,
                               run_ids=[s.run_id for s in statements],
                               plan_versions=[s.plan_version for s in statements])
    return StatementsSummary(batch.folder, len(batch.files), batch.manifest_sha256, row)


@flow(name="orbit-statements", persist_result=False)
def statements_flow(home: Home, plans: PlanSet, period: str, employees: list[str] | None, lang: str, fmt: str,
                    draft: bool, render: Renderer) -> StatementsSummary:
    """One statement per employee of ``period`` (or those named), rendered by ``render``, written 0600 under
    ``exports/statements/<period>/``, one audit row for the batch."""
    with writing_run(home, "statements"):
        summary = make_statements(home, plans, period, employees, lang, fmt, draft, render)
    run_logger().info("%d statement(s) of %s written to %s", summary.files, period, summary.folder)
    return summary
