"""The pipeline end to end, through real Prefect flows (test harness) on a temporary ORBIT_HOME."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import os
import pkgutil
import stat

import duckdb
import pytest

import flows
from warehouse.home import Home

END = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def pipeline(prefect_harness, default_plans, tmp_path_factory):
    from flows.export import export_bonus_flow
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("orbit") / "home").ensure()
    frames = generate_org(employees=60, months=6, seed=3, end_date=END, plan=default_plans.base, bad_rows=0.02)
    write_org(frames, home.landing, end_date=END)
    result = run_flow(home, default_plans)
    export = export_bonus_flow(home, "2026-Q3", "csv", None, True)
    return home, frames, result, export


def test_every_flow_module_imports():
    for mod in pkgutil.iter_modules(flows.__path__):
        importlib.import_module(f"flows.{mod.name}")


def test_every_row_is_accounted_for(pipeline):
    home, frames, result, _ = pipeline
    assert {e.dataset for e in result.ingested} == set(frames)
    for e in result.ingested:
        assert e.status == "loaded"
        assert e.rows_read == frames[e.dataset].height
        assert e.rows_read == e.rows_loaded + e.rows_quarantined + e.rows_duplicate
    with duckdb.connect(str(home.published), read_only=True) as con:
        q = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    assert q == sum(e.rows_quarantined for e in result.ingested) > 0


def test_marts_are_published_without_personal_money(pipeline):
    home, *_ = pipeline
    with duckdb.connect(str(home.published), read_only=True) as con:
        for mart in ("employee_scores", "evaluation_matrix", "department_matrix", "attribution_credits"):
            assert con.execute(f"SELECT count(*) FROM {mart}").fetchall()[0][0] > 0, mart
        columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
        assert not columns & {"full_name", "bonus_target", "bonus_amount", "raw"}
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert "bonus_lines" not in tables
        assert con.execute("SELECT count(*) FROM data_dictionary").fetchall()[0][0] > 50
        assert con.execute("SELECT count(*) FROM contribution_by_department").fetchall()[0][0] > 0


def test_credits_of_each_won_opportunity_sum_to_its_amount(pipeline):
    home, *_ = pipeline
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        bad = con.execute(
            """SELECT c.opportunity_id, sum(c.credit), any_value(o.amount) FROM attribution_credits c
               JOIN opportunities o USING (opportunity_id) GROUP BY c.opportunity_id
               HAVING sum(c.credit) <> any_value(o.amount)""").fetchall()
        won = con.execute(
            """SELECT count(*) FROM opportunities WHERE stage = 'won'
               AND opportunity_id NOT IN (SELECT opportunity_id FROM attribution_credits)
               AND closed_at >= TIMESTAMPTZ '2026-04-01 05:00:00+00'""").fetchall()[0][0]
    assert bad == []
    assert won == 0


def test_export_is_private_draft_and_reproducible(pipeline, default_plans):
    from flows.evaluate import evaluate_flow
    from flows.export import export_bonus_flow

    home, _, result, export = pipeline
    assert export.name == "bonus_2026-Q3_DRAFT.csv"
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600
    text = export.read_text()
    header = text.splitlines()[0].split(",")
    assert header[:11] == ["employee_id", "full_name", "department", "period", "composite", "payout_multiplier",
                           "bonus_amount", "currency", "incomplete", "plan_version", "run_id"]
    assert header[-1] == "status" and text.splitlines()[1].endswith(",DRAFT")
    first = hashlib.sha256(export.read_bytes()).hexdigest()
    again = evaluate_flow(home, default_plans)
    assert again.run_id == result.evaluation.run_id  # same inputs and plan, same run
    assert hashlib.sha256(export_bonus_flow(home, "2026-Q3", "csv", None, True).read_bytes()).hexdigest() == first
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'export_bonus_draft'").fetchall()[0][0] == 2


def test_second_ingest_skips_known_files(pipeline, default_plans):
    from flows.ingest import ingest_flow

    home, *_ = pipeline
    assert ingest_flow(home, default_plans) == []


def test_explain_reproduces_the_stored_figures(pipeline, monkeypatch):
    import json
    from fractions import Fraction

    from typer.testing import CliRunner

    from orbit.cli import app

    home, *_ = pipeline
    monkeypatch.setenv("ORBIT_HOME", str(home.root))
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        emp, composite, multiplier, bonus = con.execute(
            """SELECT employee_id, composite_exact, multiplier_exact, bonus_amount FROM bonus_lines
               WHERE period = '2026-Q3' ORDER BY bonus_amount DESC LIMIT 1""").fetchall()[0]
    result = CliRunner().invoke(app, ["explain", "--employee", emp, "--period", "2026-Q3", "--json"])
    assert result.exit_code == 0, result.output
    x = json.loads(result.output)
    assert Fraction(x["composite"]["exact"]) == Fraction(composite)
    assert Fraction(x["multiplier"]["exact"]) == Fraction(multiplier)
    assert x["bonus"]["amount"] == str(bonus)
    used = [m for m in x["metrics"] if m["included"]]
    assert sum(Fraction(m["weighted_score"]["exact"]) for m in used) == Fraction(composite)
    text = CliRunner().invoke(app, ["explain", "--employee", emp, "--period", "2026-Q3"]).output
    assert "composite" in text and "bonus" in text and f"€{bonus:,.2f}" in text
    missing = CliRunner().invoke(app, ["explain", "--employee", "NOBODY", "--period", "2026-Q3"])
    assert missing.exit_code == 2 and "not employed" in missing.output
