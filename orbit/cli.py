"""`orbit`: the one command-line entry point.

Exit status: 0 success, 1 a run that failed, 2 bad usage or bad input (with a message
that says what to fix), 130 / 143 stopped by Ctrl-C / SIGTERM (what was half-done rolled back).
Heavy imports happen inside the verbs, after their arguments are checked, so `--help` is instant.

One-off verbs run Orbit's flows directly (:func:`flows.engine.direct`), without Prefect, unless
``PREFECT_API_URL`` names a Prefect server to report to; every verb that writes holds the home's
writer lock (:mod:`warehouse.lock`) for its whole duration, checks included, so writers queue.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from orbit.sources import app as sources_app
from warehouse.home import Home, plan_path

app = typer.Typer(
    name="orbit",
    help="Orbit: measure and reward how every department contributes to commercial results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="HR exports.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(audit_app, name="audit")
app.add_typer(sources_app, name="sources")

PlanOpt = Annotated[Path | None, typer.Option("--plan", help="plan file or folder of plans (default: $ORBIT_PLAN or plans/default.yaml)")]
PeriodOpt = Annotated[str | None, typer.Option("--period", help="period such as 2026-07 or 2026-Q3")]
DEMO_MARKER = ".orbit-demo"
log = logging.getLogger("orbit")


class UsageProblem(Exception):
    """Bad usage or bad input: exit 2 with the message."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"orbit: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _setup_logging(verbose: bool) -> None:
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "httpx", "prefect", "alembic", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress")] = False) -> None:
    _setup_logging(verbose)


def _plans(plan: Path | None):
    from schemas.plan import PlanError, PlanSet

    try:
        return PlanSet.load(plan_path(plan))
    except PlanError as e:
        raise _fail(f"bad plan:\n{e}") from None


def _period(label: str | None):
    if label is None:
        return None
    from transforms.periods import parse_period

    try:
        return parse_period(label).label
    except ValueError as e:
        raise _fail(str(e)) from None


def _echo_ingest(entries) -> None:
    for e in entries:
        skipped = f"  skipped {e.rows_skipped:>6}" if e.rows_skipped else ""
        into = f" -> {e.dataset}" if e.mapping_sha256 and e.dataset else ""
        typer.echo(
            f"  {e.file + into:<48} {e.status:<15} read {e.rows_read:>8}  loaded {e.rows_loaded:>8}  "
            f"quarantined {e.rows_quarantined:>6}  duplicate {e.rows_duplicate:>6}{skipped}"
        )
        if e.status in ("rejected", "waiting"):
            for line in (e.message or "").splitlines():
                typer.echo(f"    {line}")


def _nothing_new(home: Home) -> str:
    """What an ingest that found no new file says: landing/ is empty, or all it holds was ingested before."""
    from warehouse.landing import list_landed

    waiting = len(list_landed(home.landing))
    if not waiting:
        return (f"landing/ is empty: no file delivered to {home.landing} "
                "(each dataset's files go to landing/<dataset>/)")
    return f"no new files in landing/ ({waiting:,} file(s) there were ingested before)"


def _echo_closed(summary) -> None:
    """Closed periods an evaluation left frozen, and those the new data would change; activity types
    that pay nothing and plan activity types no activity carries."""
    for line in [*summary.unknown_activity_types, *summary.unused_activity_types]:
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW)
    if summary.kept:
        typer.echo(f"closed, results kept: {', '.join(summary.kept)}")
    if summary.pending:
        typer.secho(f"pending restatement (new data would change them): {', '.join(summary.pending)}; "
                    "HR restates with `orbit reopen --period P --reason TEXT`", fg=typer.colors.YELLOW)


# --------------------------------------------------------------------------- verbs
@app.command()
def generate(
    employees: Annotated[int, typer.Option(min=1, help="number of employees")] = 300,
    months: Annotated[int, typer.Option(min=1, max=120, help="months of history")] = 12,
    seed: Annotated[int, typer.Option(help="random seed (same seed and end date, same bytes)")] = 7,
    bad_rows: Annotated[float, typer.Option("--bad-rows", min=0.0, max=0.5, help="fraction of realistic bad rows mixed in")] = 0.0,
    end_date: Annotated[dt.datetime | None, typer.Option("--end-date", formats=["%Y-%m-%d"], help="last day of data (default: end of the last complete month)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="landing folder (default: $ORBIT_HOME/landing)")] = None,
    plan: PlanOpt = None,
) -> None:
    """Write a realistic synthetic organisation into the landing folders."""
    from orbit.synth import default_end_date, generate_org, write_org

    plans = _plans(plan)
    end = end_date.date() if end_date else default_end_date(dt.date.today())
    target = out or Home.from_env().ensure().landing
    with _progress("generating") as step:
        try:
            frames = generate_org(employees=employees, months=months, seed=seed, end_date=end, plan=plans.base,
                                  bad_rows=bad_rows)
        except ValueError as e:
            raise _fail(str(e)) from None
        step("writing")
        paths = write_org(frames, target, end_date=end)
    for name, path in paths.items():
        typer.echo(f"  {name:<14} {frames[name].height:>10,} rows  {path}")


@app.command()
def ingest(plan: PlanOpt = None) -> None:
    """Ingest every new file in landing/ (validated, quarantined, logged)."""
    from flows.ingest import ingest_flow

    plans = _plans(plan)
    home = Home.from_env()
    with _writer(home, "ingest"):
        entries = _run(lambda: ingest_flow(home, plans))
    _echo_ingest(entries)
    if not entries:
        typer.echo(_nothing_new(home))


@app.command()
def evaluate(period: PeriodOpt = None, plan: PlanOpt = None) -> None:
    """Recompute scores, matrices and attribution (every period with data by default)."""
    label = _period(period)  # bad arguments are refused before the heavy imports
    from flows.evaluate import evaluate_flow

    plans = _plans(plan)
    home = Home.from_env()
    with _writer(home, "evaluate"):
        if label:  # refused before any work (read under the writer lock: no writer holds the file then)
            _check_evaluable(home, plans, label)
        summary = _run(lambda: evaluate_flow(home, plans, [label] if label else None))
    typer.echo(f"evaluated {', '.join(summary.periods) or 'no period'} (run {summary.run_id[:12]})")
    _echo_closed(summary)


@app.command()
def publish() -> None:
    """Swap in a fresh analytics snapshot (published/analytics.duckdb)."""
    from flows.publish import publish_flow

    home = Home.from_env()
    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}; run `orbit ingest` first")
    with _writer(home, "publish"):
        _run(lambda: publish_flow(home))
    typer.echo(f"published {home.published}")


@app.command()
def run(plan: PlanOpt = None) -> None:
    """Ingest + evaluate + publish: what the nightly schedule runs."""
    from flows.run import run_flow

    plans = _plans(plan)
    home = Home.from_env()
    with _writer(home, "run"):
        result = _run(lambda: run_flow(home, plans))
    _echo_ingest(result.ingested)
    if not result.ingested:
        typer.echo(_nothing_new(home))
    typer.echo(f"evaluated {', '.join(result.evaluation.periods) or 'no period'}; published {home.published}")
    _echo_closed(result.evaluation)


@export_app.command("bonus")
def export_bonus(
    period: Annotated[str, typer.Option("--period", help="period such as 2026-Q3")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="output file or folder (default: $ORBIT_HOME/exports)")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="export a period that is not closed, marked DRAFT")] = False,
) -> None:
    """HR bonus inputs for one period (closed periods; --draft otherwise)."""
    if fmt not in ("csv", "xlsx"):
        raise _fail("--format must be csv or xlsx")
    label = _period(period)
    home = Home.from_env()
    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}; run `orbit run` first")
    from flows.export import export_bonus_flow
    from transforms.export import ExportError
    from warehouse.exports import check_bonus_export_file

    with _writer(home, "export"):
        try:
            check_bonus_export_file(home.warehouse, label, fmt, draft)
        except ExportError as e:
            raise _fail(str(e)) from None
        path = _run(lambda: export_bonus_flow(home, label, fmt, out, draft))
    typer.echo(f"wrote {path}")


@app.command()
def status() -> None:
    """Freshness of each dataset, last runs, quarantine counts, periods (reads the published snapshot)."""
    from orbit.status import render_status

    home = Home.from_env()
    if not home.published.exists():
        raise _fail(f"nothing published yet under {home.root}; run `orbit run` (or `orbit demo`)")
    typer.echo(render_status(home, server=True))


@app.command()
def demo(
    employees: Annotated[int, typer.Option(min=10, help="employees in the demo organisation")] = 300,
    months: Annotated[int, typer.Option(min=3, help="months of history")] = 12,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Generate a seeded demo organisation, run the whole pipeline, print a summary."""
    from orbit.demo import run_demo

    home = Home.from_env()
    if home.root.exists() and any(home.root.iterdir()) and not (home.root / DEMO_MARKER).exists():
        raise _fail(f"{home.root} holds data that is not Orbit's demo; set ORBIT_HOME to an empty folder for the demo")
    if home.root.exists():
        shutil.rmtree(home.root)
    home.ensure()
    (home.root / DEMO_MARKER).write_text("created by `orbit demo`; the demo may wipe this folder\n")
    plans = _plans(None)
    with _writer(home, "demo"):
        summary = _run(lambda: run_demo(home, plans, employees=employees, months=months, seed=seed))
    typer.echo(summary)


def _check_evaluable(home: Home, plans, label: str) -> None:
    """`orbit evaluate --period P` refuses, before any work, a period of the other kind or one with no data."""
    from transforms.periods import check_period_kind
    from warehouse.db import open_warehouse
    from warehouse.read import period_data_check

    try:
        period = check_period_kind(label, plans.base.period)
    except ValueError as e:
        raise _fail(str(e)) from None
    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}; run `orbit ingest` (or `orbit run`) first")
    try:
        with open_warehouse(home.warehouse, read_only=True) as con:
            problem = period_data_check(con, period, plans.base.timezone)
    except OSError as e:
        raise _fail(str(e), code=1) from None
    if problem:
        raise _fail(problem)


def _check_period_state(home: Home, check, label: str) -> str:
    """Run a warehouse.periods check_* before a close or reopen: bad state exits 2 with what to do."""
    from warehouse.periods import PeriodStateError, check_period

    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}; run `orbit run` first")
    try:
        return check_period(home.warehouse, label, check)
    except PeriodStateError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(str(e), code=1) from None


@app.command()
def close(
    period: Annotated[str, typer.Option("--period", help="period such as 2026-Q3")],
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="close a partial period anyway (one "
                                                "that has not ended, or whose data does not cover it); needs --reason")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="why (recorded in the audit log)")] = None,
    plan: PlanOpt = None,
) -> None:
    """Freeze a period's results on the run that made them (audited). Later data does not change them:
    it shows as pending restatement until `orbit reopen`. HR exports need a closed period. A partial
    period is refused unless --allow-partial --reason TEXT."""
    label = _period(period)
    if allow_partial and not (reason or "").strip():
        raise _fail("--allow-partial needs --reason TEXT saying why the period is closed before it is complete")
    from flows.close import close_flow
    from warehouse import clock
    from warehouse.periods import check_close

    try:
        today = clock.today(_plans(plan).base.timezone)
    except ValueError as e:
        raise _fail(str(e)) from None
    home = Home.from_env()
    with _writer(home, "close"):
        _check_period_state(home, lambda con, p: check_close(con, p, today=today, allow_partial=allow_partial),
                            label)
        run_id = _run(lambda: close_flow(home, label, allow_partial, reason, today))
    typer.echo(f"closed {label} on run {run_id[:12]}; `orbit export bonus --period {label}` exports it")


@app.command()
def reopen(
    period: Annotated[str, typer.Option("--period", help="a closed period such as 2026-Q3")],
    reason: Annotated[str, typer.Option("--reason", help="why the period is restated (kept in restatements and the audit log)")],
    plan: PlanOpt = None,
) -> None:
    """Restate a closed period: recompute it with the data known now, record per employee the old and new
    figures (restatements), and leave it open (close it again afterwards). Audited."""
    label = _period(period)
    from flows.close import reopen_flow
    from warehouse.periods import check_reopen

    if not reason.strip():
        raise _fail("--reason must say why the period is restated")
    home = Home.from_env()
    plans = _plans(plan)
    with _writer(home, "reopen"):
        _check_period_state(home, check_reopen, label)
        summary = _run(lambda: reopen_flow(home, plans, label, reason))
    typer.echo(f"reopened {label}: restated on run {summary.run_id[:12]} (see the restatements table); "
               f"close it again with `orbit close --period {label}`")


@app.command()
def explain(
    employee: Annotated[str, typer.Option("--employee", help="employee_id")],
    period: Annotated[str, typer.Option("--period", help="period such as 2026-Q3")],
    as_json: Annotated[bool, typer.Option("--json", help="the same breakdown as JSON (every ratio as a decimal string beside the exact rational)")] = False,
    lang: Annotated[str | None, typer.Option("--lang", help="en, es or nl: how numbers and money are written (default: the plan's language, else en)")] = None,
    plan: PlanOpt = None,
) -> None:
    """How an employee's figures were made: metrics (capped ones marked), composite, where it sits on the payout
    curve, the bonus arithmetic with fte and days employed, and the opportunities behind the contribution."""
    from orbit.explain import NothingToExplain, gather_explanation, render_explanation, to_json
    from orbit.i18n import LANGUAGES
    from warehouse.db import open_warehouse
    from warehouse.statements import StatementsError, plan_for

    label = _period(period)
    if lang is not None and lang not in LANGUAGES:
        raise _fail(f"--lang must be one of {', '.join(LANGUAGES)}")
    plans = _plans(plan)
    home = Home.from_env()
    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}; run `orbit run` first")
    try:
        language = lang or plan_for(plans, label).language or "en"
        with open_warehouse(home.warehouse, read_only=True) as con:
            plan_used, statement = gather_explanation(con, employee, label, plans)
    except (NothingToExplain, StatementsError) as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(str(e), code=1) from None
    typer.echo(to_json(statement) if as_json else render_explanation(plan_used, statement, language))


@app.command()
def simulate(
    plan: Annotated[Path, typer.Option("--plan", help="the draft plan file to try")],
    period: Annotated[list[str] | None, typer.Option("--period", help="period to compare (repeatable; default: the last four complete periods)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="folder for the comparison (default: $ORBIT_HOME/simulations/<draft>_<periods>/)")] = None,
    in_force: Annotated[Path | None, typer.Option("--in-force", help="the plan in force, file or folder (default: $ORBIT_PLAN or plans/default.yaml)")] = None,
) -> None:
    """A draft plan against the plan in force on the loaded data: cost, gainers and losers, multipliers.

    Writes only the comparison (CSV and an HTML page); never the marts, snapshot, exports or audit log,
    and needs no writer slot."""
    from orbit.simulate import SimulationError, default_out, summary_text, write_simulation
    from orbit.simulate import simulate as run_simulation
    from schemas.plan import PlanError

    plans = _plans(in_force)
    home = Home.from_env()
    try:
        sim = run_simulation(home, plans, plan, period or None)
    except (SimulationError, PlanError) as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(str(e), code=1) from None
    files = write_simulation(sim, out or default_out(home, sim))
    typer.echo(summary_text(sim, files))


@app.command()
def diagnose(
    period: Annotated[str, typer.Option("--period", help="period such as 2026-Q3")],
    plan: PlanOpt = None,
) -> None:
    """The revenue funnel of a period and where the gap to target (and the change) came from, stage by stage."""
    from orbit.diagnose import render_diagnosis
    from warehouse.funnel import FunnelNotFound, read_published_funnel

    label = _period(period)
    currency = _plans(plan).base.currency
    try:
        rows = read_published_funnel(Home.from_env().published, label)
    except FunnelNotFound as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(str(e), code=1) from None
    typer.echo(render_diagnosis(rows, currency))


@app.command()
def statements(
    period: Annotated[str, typer.Option("--period", help="period such as 2026-Q3 (closed; --draft for an open one)")],
    employee: Annotated[list[str] | None, typer.Option("--employee", help="employee_id (repeatable; default: every employee evaluated in the period)")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="en, es or nl (default: the plan's language, else en)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html or pdf")] = "html",
    draft: Annotated[bool, typer.Option("--draft", help="statements of a period that is not closed, every page marked DRAFT")] = False,
    plan: PlanOpt = None,
) -> None:
    """One statement per employee: their part in the commercial result, their matrix, the payout curve, the bonus
    arithmetic, their trend and what would move their result most. Written owner-only to
    $ORBIT_HOME/exports/statements/<period>/<employee_id>.html|.pdf, one audit row per batch."""
    from flows.statements import statements_flow
    from orbit.i18n import LANGUAGES
    from orbit.statements import renderer
    from warehouse.db import open_warehouse
    from warehouse.statements import StatementsError, check_statements, plan_for

    label = _period(period)
    if fmt not in ("html", "pdf"):
        raise _fail("--format must be html or pdf")
    if lang is not None and lang not in LANGUAGES:
        raise _fail(f"--lang must be one of {', '.join(LANGUAGES)}")
    home = Home.from_env()
    plans = _plans(plan)
    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}; run `orbit run` first")
    with _writer(home, "statements"):  # the batch appends to the audit log
        try:
            language = lang or plan_for(plans, label).language or "en"
            with open_warehouse(home.warehouse) as con:
                check_statements(con, label, draft)
        except StatementsError as e:
            raise _fail(str(e)) from None
        except OSError as e:
            raise _fail(str(e), code=1) from None
        summary = _run(lambda: statements_flow(home, plans, label, employee or None, language, fmt, draft,
                                               renderer(fmt)))
    typer.echo(f"wrote {summary.files} {fmt} statement(s) in {language} to {summary.folder} "
               f"(audited; manifest sha256 {summary.manifest_sha256[:16]})")


@app.command()
def report(
    period: Annotated[str, typer.Option("--period", help="period such as 2026-Q3")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file or folder (default: $ORBIT_HOME/reports/report_<period>.html)")] = None,
    plan: PlanOpt = None,
) -> None:
    """A self-contained HTML report of one period with charts (reads the published snapshot only; department
    and metric labels from the plan)."""
    from orbit.report import ReportError, default_report_path, write_report

    label = _period(period)
    home = Home.from_env()
    if out is not None and out.is_dir():
        out = out / default_report_path(home, label).name
    try:
        path = write_report(home.published, label, out or default_report_path(home, label), _plans(plan))
    except ReportError as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {path}")


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port of the local Prefect server and UI")] = 4200,
    plan: PlanOpt = None,
) -> None:
    """Run Orbit unattended: a local Prefect server and UI (unless PREFECT_API_URL names one), the nightly
    schedule, and runs triggered as soon as a delivered file is complete. Ctrl-C stops everything."""
    from orbit.serve import ServeError, serve_orbit

    signal.signal(signal.SIGINT, signal.default_int_handler)  # serve stops on KeyboardInterrupt, cleaning up
    plans = _plans(plan)
    home = Home.from_env().ensure()
    try:
        serve_orbit(home, plans, plan_path(plan), port, echo=typer.echo)
    except ServeError as e:
        raise _fail(str(e), code=1) from None


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit log; exit 1 if a row was tampered with."""
    from warehouse.audit import verify_audit_log

    home = Home.from_env()
    if not home.warehouse.exists():
        raise _fail(f"no warehouse at {home.warehouse}")
    try:
        problems, n = verify_audit_log(home.warehouse)
    except OSError as e:
        raise _fail(str(e), code=1) from None
    if problems:
        for p in problems:
            typer.secho(p, err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"audit log intact ({n} rows)")


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _writer(home: Home, verb: str):
    """Hold the home's writer lock for a whole writing verb: its checks and its flow (which takes the same
    lock again, reentrantly). Another writer of this home — a CLI command in another terminal, a run of
    `orbit serve` — makes this one wait, saying who holds it."""
    from warehouse.lock import writer_lock

    with writer_lock(home.root, verb, on_wait=lambda message: log.warning("%s", message)):
        started = time.perf_counter()
        yield
        log.info("%s: work took %.3f s", verb, time.perf_counter() - started)


def _run(fn):
    """Run a flow; bad input exits 2, any other failure exits 1, with a message, not a traceback.

    Without ``PREFECT_API_URL`` the flow runs directly (no Prefect API to start or report to)."""
    from flows.engine import direct, prefect_wanted
    from schemas.plan import PlanError
    from warehouse.statements import StatementsError

    try:
        with _progress("working (-v shows the log)"), (contextlib.nullcontext() if prefect_wanted() else direct()):
            return fn()
    except typer.Exit:
        raise
    except (PlanError, UsageProblem, StatementsError) as e:
        raise _fail(str(e)) from None
    except Exception as e:  # noqa: BLE001 - the CLI's last line of defence
        from flows.engine import stop_requested

        if stop_requested():  # a signal that DuckDB turned into "query interrupted"
            raise Stopped(stop_requested()) from None
        log.debug("run failed", exc_info=True)
        raise _fail(f"run failed: {e}. Re-run with -v for details.", code=1) from None


class _progress:
    """A spinner with a step label on long CLI work (shown on a terminal only)."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 transient=True, disable=not sys.stderr.isatty(), console=None)
        self.progress.start()
        self.task = self.progress.add_task(self.label)
        return lambda label: self.progress.update(self.task, description=label)

    def __exit__(self, *exc) -> None:
        self.progress.stop()


class Stopped(BaseException):
    """SIGTERM or Ctrl-C: unwinds the command (open transactions roll back, the writer lock is freed).
    A BaseException, so that no `except Exception` (nor Click's own KeyboardInterrupt handling) keeps it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame) -> None:
    from flows.engine import request_stop

    request_stop(signum)
    raise Stopped(signum)


def main() -> None:
    # Orbit's home holds compensation data: whatever it creates is owner-only (published/ is opened up
    # explicitly for analysts, see warehouse.publish). Inherited by every process Orbit starts.
    os.umask(0o077)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        app()
    except Stopped as e:
        name = signal.Signals(e.signum).name
        typer.secho(f"orbit: stopped by {name}; work in progress was rolled back (nothing half-done is kept)",
                    err=True, fg=typer.colors.RED)
        sys.exit(128 + e.signum)
