"""Statements: what one period's statements read from the warehouse, and how the batch is written.

Every query here is the only SQL of the statements; the statement model itself is pure
(:mod:`transforms.statements`) and the presentation lives in :mod:`orbit.statements`.

A statement carries one person's name and money, so the batch goes only to owner-only files
(0600 in 0700 folders) under ``exports/statements/<period>/`` and one audit row per batch
records every file's SHA-256; nothing here is ever published in the analyst snapshot.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import duckdb
import polars as pl

from schemas.plan import Plan, PlanSet
from transforms.periods import parse_period
from transforms.statements import Statement, build_statements, trend_periods
from warehouse.audit import append_audit
from warehouse.db import query_frame, transaction
from warehouse.periods import inputs_digest, run_inputs_digest, state_of
from warehouse.read import input_hashes


class StatementsError(ValueError):
    """Statements cannot be made as asked (a message telling the user what to do)."""


@dataclass(frozen=True)
class StatementInputs:
    """Everything the statements of one period are made from (frames; see each query for columns)."""

    period: str
    status: dict                # the period_status row (state, pending_restatement, ...); state 'open' if none
    people: pl.DataFrame        # per employee: bonus_lines joined with employee_scores
    matrix: pl.DataFrame        # evaluation_matrix rows of those employees
    credits: pl.DataFrame       # their attribution credits with the opportunity and how they touched it
    department_scores: pl.DataFrame  # every employee's department and exact composite (no id, no name, no money)
    department_credits: pl.DataFrame  # credited won amount per department (aggregates only)
    trend: pl.DataFrame         # their composite, multiplier and bonus over the periods asked
    roster: pl.DataFrame        # their employees rows (for days employed and fte)
    period_states: dict[str, str]  # state of every period in the trend


def _id_filter(column: str, employees: Sequence[str] | None) -> tuple[str, list]:
    if employees is None:
        return "", []
    return f" AND list_contains(?, {column})", [list(employees)]


def _optional(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], alias: str = "") -> str:
    """``, col`` for each of ``columns`` that ``table`` has (marts gain columns over time), else ``, NULL AS col``."""
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
        [table]).fetchall()}
    prefix = f"{alias}." if alias else ""
    return "".join(f", {prefix}{c}" if c in have else f", NULL AS {c}" for c in columns)


def evaluated_count(con: duckdb.DuckDBPyConnection, period: str) -> int:
    """How many employees ``period`` has results for (0: not evaluated)."""
    return con.execute("SELECT count(*) FROM bonus_lines WHERE period = ?", [period]).fetchall()[0][0]


def evaluated_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every period with results, in order."""
    return [p for (p,) in con.execute("SELECT DISTINCT period FROM bonus_lines ORDER BY 1").fetchall()]


def check_statements(con: duckdb.DuckDBPyConnection, period: str, draft: bool) -> str | None:
    """The run the statements of ``period`` come from; :class:`StatementsError` when they cannot be made."""
    if not evaluated_count(con, period):
        raise StatementsError(f"no evaluated results for period {period}; run `orbit evaluate --period {period}` "
                              "first")
    state, closed_run = state_of(con, period)
    if state != "closed":
        if not draft:
            raise StatementsError(f"period {period} is not closed; statements are made for closed periods. Close it "
                                  f"with `orbit close --period {period}`, or use --draft (every page marked DRAFT).")
        return None
    runs = {r for (r,) in con.execute("SELECT DISTINCT run_id FROM bonus_lines WHERE period = ?", [period]).fetchall()}
    if runs != {closed_run}:
        raise StatementsError(f"period {period} is closed on run {closed_run[:12]} but holds other results; "
                              f"reopen it (`orbit reopen --period {period} --reason ...`) and close it again")
    return closed_run


def read_statement_inputs(con: duckdb.DuckDBPyConnection, period: str, *, employees: Sequence[str] | None,
                          trend_periods: Sequence[str], lookback_days: int) -> StatementInputs:
    """Read what the statements of ``period`` need, for ``employees`` (None: every employee evaluated in it)."""
    where, params = _id_filter("b.employee_id", employees)
    people = query_frame(
        con,
        f"""SELECT b.employee_id, b.full_name, b.department, b.role, b.composite_exact, b.multiplier_exact,
                   b.bonus_target, b.period_share, b.fte_days, b.days_in_period, b.bonus_amount, b.currency,
                   b.incomplete, s.incomplete_reason{_optional(con, "employee_scores", ["missing_policy"], "s")},
                   b.plan_version, b.run_id
            FROM bonus_lines b LEFT JOIN employee_scores s USING (period, employee_id)
            WHERE b.period = ?{where} ORDER BY b.employee_id""",
        [period, *params],
    )
    if employees is not None:
        missing = sorted(set(employees) - set(people["employee_id"].to_list()))
        if missing:
            raise StatementsError(f"no result for {', '.join(missing)} in {period}: not employed in it, or not an "
                                  "employee id (ids are case-sensitive)")
    where, params = _id_filter("employee_id", employees)
    matrix = query_frame(
        con,
        f"""SELECT employee_id, metric, direction, actual_exact, target, target_source, achievement_exact, cap, weight,
                   effective_weight_exact, weighted_score_exact, included, reason, detail
                   {_optional(con, "evaluation_matrix", ["when_missing"])}
            FROM evaluation_matrix WHERE period = ?{where} ORDER BY employee_id, metric""",
        [period, *params],
    )
    where, params = _id_filter("employee_id", employees)
    credits = query_frame(
        con,
        f"""WITH c AS (SELECT * FROM attribution_credits WHERE period = ?{where})
            SELECT c.employee_id, c.opportunity_id, c.department, c.credit, c.share, o.customer_id, o.amount,
                   o.closed_at,
                   (SELECT list(DISTINCT a.activity_type ORDER BY a.activity_type) FROM activities a
                    WHERE a.employee_id = c.employee_id AND a.opportunity_id = c.opportunity_id
                      AND a.occurred_at <= o.closed_at
                      AND a.occurred_at >= o.closed_at - to_days(CAST(? AS INTEGER))) AS touch_types
            FROM c LEFT JOIN opportunities o USING (opportunity_id)
            ORDER BY c.employee_id, c.credit DESC, c.opportunity_id""",
        [period, *params, lookback_days],
    )
    department_scores = query_frame(
        con, "SELECT department, composite_exact FROM employee_scores WHERE period = ? ORDER BY department",
        [period])
    department_credits = query_frame(
        con,
        """SELECT department, sum(credit) AS credit, count(DISTINCT opportunity_id) AS opportunities
           FROM attribution_credits WHERE period = ? GROUP BY department ORDER BY department""",
        [period])
    where, params = _id_filter("b.employee_id", employees)
    trend = query_frame(
        con,
        f"""SELECT b.period, b.employee_id, b.composite_exact, b.multiplier_exact, b.bonus_amount, b.currency
            FROM bonus_lines b WHERE list_contains(?, b.period){where} ORDER BY b.employee_id, b.period""",
        [list(trend_periods), *params],
    )
    where, params = _id_filter("employee_id", employees)
    roster = query_frame(
        con,
        f"""SELECT employee_id, full_name, department, role, currency, manager_id, fte, bonus_target, effective_from,
                   effective_to
            FROM employees WHERE list_contains((SELECT list(employee_id) FROM bonus_lines WHERE period = ?),
                                               employee_id){where}""",
        [period, *params],
    )
    cur = con.execute("SELECT * FROM period_status WHERE period = ?", [period])
    names = [d[0] for d in cur.description]
    row = cur.fetchall()
    status = dict(zip(names, row[0])) if row else {"period": period, "state": "open", "pending_restatement": False}
    period_states = dict(con.execute(
        "SELECT period, state FROM period_status WHERE list_contains(?, period)", [list(trend_periods)]).fetchall())
    return StatementInputs(period, status, people, matrix, credits, department_scores, department_credits, trend,
                           roster, period_states)


def plan_for(plans: PlanSet, period: str) -> Plan:
    plan = plans.for_period_start(parse_period(period).start)
    if plan is None:
        raise StatementsError(f"no plan is in force for {period} (the earliest plan starts "
                              f"{plans.base.effective_from})")
    return plan


def load_statements(con, plans: PlanSet, period: str, *, employees: Sequence[str] | None,
                    draft: bool) -> tuple[Plan, list[Statement]]:
    """The statement model of ``period`` for ``employees`` (None: all), read from an open warehouse."""
    plan = plan_for(plans, period)
    p = parse_period(period)
    inputs = read_statement_inputs(con, period, employees=employees, trend_periods=trend_periods(p),
                                   lookback_days=plan.attribution.lookback_days)
    statements = build_statements(
        plan=plan, period=p, status=inputs.status, people=inputs.people, matrix=inputs.matrix,
        credits=inputs.credits, department_scores=inputs.department_scores,
        department_credits=inputs.department_credits, trend=inputs.trend, roster=inputs.roster,
        period_states=inputs.period_states, draft=draft)
    return plan, statements


# --------------------------------------------------------------------------- writing the batch
_UNSAFE = set('/\\%:*?"<>|')


def statement_file_name(employee_id: str, extension: str) -> str:
    """The file of one employee's statement: the id itself where it is a safe file name, else percent-encoded
    (ids may be names: spaces and accents are kept readable, '/', '%' and control characters are encoded)."""
    name = "".join(c if c.isprintable() and c not in _UNSAFE else quote(c, safe="") for c in employee_id)
    if name.startswith("."):
        name = "%2E" + name[1:]
    return f"{name}.{extension}"


def statements_folder(exports: Path, period: str) -> Path:
    return exports / "statements" / period


def _private_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    """``data`` into ``path``, mode 0600, atomically (a reader never sees half a statement)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass(frozen=True)
class WrittenBatch:
    folder: Path
    files: list[tuple[str, str]]  # (file name, sha256), sorted by file name
    manifest_sha256: str


def write_statement_files(exports: Path, period: str, documents: Sequence[tuple[str, bytes]],
                          extension: str) -> WrittenBatch:
    """Write each (employee_id, bytes) as ``exports/statements/<period>/<employee_id>.<extension>`` (0600 files
    in 0700 folders). Returns the files' SHA-256s and the SHA-256 of their manifest (``sha256sum`` format)."""
    _private_folder(exports)
    _private_folder(exports / "statements")
    folder = statements_folder(exports, period)
    _private_folder(folder)
    files = []
    for employee_id, data in documents:
        name = statement_file_name(employee_id, extension)
        _write_private(folder / name, data)
        files.append((name, hashlib.sha256(data).hexdigest()))
    files.sort()
    return WrittenBatch(folder, files, hashlib.sha256(manifest_text(files).encode()).hexdigest())


def manifest_text(files: Sequence[tuple[str, str]]) -> str:
    """Each file's SHA-256 in ``sha256sum`` format (``sha256sum -c`` checks a folder against it)."""
    return "".join(f"{sha}  {name}\n" for name, sha in files)


def audit_statements(con: duckdb.DuckDBPyConnection, period: str, batch: WrittenBatch, *, draft: bool, lang: str,
                     fmt: str, run_ids: Sequence[str], plan_versions: Sequence[str]) -> str:
    """One audit row for the batch: the manifest of every file's SHA-256 in ``detail``, its SHA-256 in
    ``output_sha256``. Returns the row's hash."""
    runs = sorted(set(run_ids))
    with transaction(con):
        return append_audit(
            con, "statements_draft" if draft else "statements", period=period, run_id=",".join(runs),
            plan_version=",".join(sorted(set(plan_versions))),
            input_hashes=run_inputs_digest(con, runs) or inputs_digest(input_hashes(con)),
            output_sha256=batch.manifest_sha256,
            detail=f"{len(batch.files)} {fmt} statement(s), language {lang}, in {batch.folder.name}/\n"
                   + manifest_text(batch.files),
        )


def statement_rows(con: duckdb.DuckDBPyConnection, period: str) -> pl.DataFrame:
    """The audit rows of a period's statement batches (for tests and HR's checks)."""
    return query_frame(con, "SELECT * FROM audit_log WHERE period = ? AND action LIKE 'statements%' ORDER BY seq",
                       [period])
