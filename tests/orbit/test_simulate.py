"""`orbit simulate` end to end: it writes only its comparison, never the warehouse, snapshot, exports or audit
log; the plan in force simulates to zero differences; it runs while a writer holds the warehouse."""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from orbit.cli import app
from warehouse.home import DEFAULT_PLAN, Home

runner = CliRunner()
END = dt.date(2026, 9, 30)
DRAFT = Path(__file__).resolve().parents[2] / "plans" / "drafts" / "main-metrics.yaml"
MAIN = {"sales": "closing_index", "marketing": "prospecting", "customer_service": "csat", "logistics": "on_time",
        "dispatch": "on_time", "finance": "days_to_invoice", "hr": "time_to_hire", "facilities": "work_orders",
        "technology": "uptime"}


def fingerprint(home: Home) -> dict:
    """Every warehouse table's rows, and the bytes of every file Orbit owns outside the simulations folder."""
    state: dict = {}
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        for t in tables:
            rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            state[f"table:{t}"] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    for f in sorted(home.root.rglob("*")):
        if f.is_file() and "simulations" not in f.relative_to(home.root).parts and "prefect" not in f.parts:
            state[f"file:{f.relative_to(home.root)}"] = (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def org(prefect_harness, default_plans, tmp_path_factory):
    from flows.export import export_bonus_flow
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("sim") / "home").ensure()
    frames = generate_org(employees=40, months=7, seed=11, end_date=END, plan=default_plans.base, bad_rows=0.01)
    write_org(frames, home.landing, end_date=END)
    run_flow(home, default_plans)
    export_bonus_flow(home, "2026-Q3", "csv", None, True)  # an export and an audit row that must not move
    return home


def test_the_shipped_draft_moves_a_tenth_from_company_revenue_to_each_main_metric() -> None:
    draft, default = (yaml.safe_load(p.read_text()) for p in (DRAFT, DEFAULT_PLAN))
    rows = {**{d: r for d, r in default["weights"].items()}, **default["role_weights"]}
    for key, row in rows.items():
        got = (draft["weights"] if "/" not in key else draft["role_weights"])[key]
        metric = MAIN[key.split("/")[0]]
        assert Decimal(str(got["company_revenue"])) == Decimal(str(row["company_revenue"])) - Decimal("0.1"), key
        assert Decimal(str(got[metric])) == Decimal(str(row[metric])) + Decimal("0.1"), key
        assert {m: w for m, w in got.items() if m not in (metric, "company_revenue")} == {
            m: w for m, w in row.items() if m not in (metric, "company_revenue")}, key
    assert {k: v for k, v in draft.items() if k not in ("weights", "role_weights", "name", "version")} == {
        k: v for k, v in default.items() if k not in ("weights", "role_weights", "name", "version")}


@pytest.mark.slow
def test_simulate_writes_only_its_comparison(org, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ORBIT_HOME", str(org.root))
    before = fingerprint(org)
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["simulate", "--plan", str(DRAFT), "--period", "2026-Q2", "--period", "2026-Q3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert fingerprint(org) == before  # every warehouse table, the snapshot, exports and audit log unchanged
    assert "bonus cost" in result.output and "2026-Q2, 2026-Q3" in result.output
    for name in ("employees.csv", "departments.csv", "periods.csv", "multipliers.csv", "department_multipliers.csv",
                 "simulation.html"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    employees = pl.read_csv(out / "employees.csv", infer_schema=False)
    assert set(employees["period"]) == {"2026-Q2", "2026-Q3"}
    with duckdb.connect(str(org.warehouse), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM employee_scores WHERE period IN ('2026-Q2', '2026-Q3')").fetchall()[0][0]
    assert employees.height == n
    change = sum(Decimal(v) for v in employees["bonus_change"])
    periods = pl.read_csv(out / "periods.csv", infer_schema=False)
    assert sum(Decimal(v) for v in periods["cost_change"]) == change
    assert f"change {'+' if change > 0 else ''}{change:,.2f} EUR" in result.output
    page = (out / "simulation.html").read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")  # self-contained


@pytest.mark.slow
def test_the_plan_in_force_simulates_to_zero_differences(org, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ORBIT_HOME", str(org.root))
    result = runner.invoke(app, ["simulate", "--plan", str(DEFAULT_PLAN), "--out", str(tmp_path / "same")])
    assert result.exit_code == 0, result.output
    employees = pl.read_csv(tmp_path / "same" / "employees.csv", infer_schema=False)
    assert employees.height > 0
    assert set(employees["outcome"]) == {"same"} and {Decimal(v) for v in employees["bonus_change"]} == {0}
    assert set(employees["composite_change"]) == set(employees["multiplier_change"]) == {"0.000000"}
    # default periods: the complete ones (data from 2026-03-01 to 2026-09-30: Q2 and Q3)
    assert set(employees["period"]) == {"2026-Q2", "2026-Q3"}
    assert "change 0.00 EUR" in result.output and "0 gain, 0 lose" in result.output
    # the plan in force re-evaluated here equals what the pipeline stored
    with duckdb.connect(str(org.warehouse), read_only=True) as con:
        stored = dict(con.execute("SELECT period || '/' || employee_id, bonus_amount FROM bonus_lines "
                                  "WHERE period IN ('2026-Q2', '2026-Q3')").fetchall())
    assert {f"{r['period']}/{r['employee_id']}": Decimal(r["bonus_before"]) for r in employees.iter_rows(named=True)
            } == stored


def hold_warehouse(path: Path, seconds: float) -> subprocess.Popen:
    """Another process opens the warehouse read-write (as a writing run does) for ``seconds``; returns once
    it holds the file."""
    proc = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                             "print('held', flush=True); time.sleep(float(sys.argv[2])); con.close()",
                             str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow
def test_simulate_waits_for_a_writer_and_never_takes_the_writer_slot(org, default_plans) -> None:
    from orbit.simulate import simulate
    from warehouse.db import WarehouseBusy

    proc = hold_warehouse(org.warehouse, 2.0)
    started = time.monotonic()
    sim = simulate(org, default_plans, DRAFT, ["2026-Q3"], wait_seconds=60)
    waited = time.monotonic() - started
    assert proc.wait(timeout=30) == 0
    assert waited >= 1.0 and sim.employees.height > 0
    proc = hold_warehouse(org.warehouse, 3.0)
    with pytest.raises(WarehouseBusy, match="stayed locked"):
        simulate(org, default_plans, DRAFT, ["2026-Q3"], wait_seconds=0.3)
    assert proc.wait(timeout=30) == 0


def test_simulate_has_help() -> None:
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0 and "--plan" in result.output and "--period" in result.output


def test_bad_draft_and_bad_period_exit_2(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    bad = tmp_path / "bad.yaml"
    bad.write_text(DRAFT.read_text().replace("company_revenue: 0.1}", "company_revenue: 0.2}", 1))
    result = runner.invoke(app, ["simulate", "--plan", str(bad)])
    assert result.exit_code == 2 and f"{bad}:" in result.output and "must sum to 1" in result.output
    result = runner.invoke(app, ["simulate", "--plan", str(DRAFT)])
    assert result.exit_code == 2 and "no warehouse" in result.output
    monthly = tmp_path / "monthly.yaml"
    monthly.write_text(DRAFT.read_text().replace("period: quarter", "period: month"))
    result = runner.invoke(app, ["simulate", "--plan", str(monthly)])
    assert result.exit_code == 2 and "period kind" in result.output


@pytest.mark.slow
def test_demo_company_main_metrics_draft(prefect_harness, default_plans, tmp_path, monkeypatch) -> None:
    """The acceptance run: the demo company (300 employees, 12 months to 2026-11-30), the shipped draft."""
    from orbit.demo import run_demo

    home = Home(tmp_path / "demo").ensure()
    run_demo(home, default_plans, employees=300, months=12, seed=7, end_date=dt.date(2026, 11, 30))
    monkeypatch.setenv("ORBIT_HOME", str(home.root))
    before = fingerprint(home)
    result = runner.invoke(app, ["simulate", "--plan", str(DRAFT)])
    assert result.exit_code == 0, result.output
    assert fingerprint(home) == before
    assert "2026-Q1, 2026-Q2, 2026-Q3" in result.output and "bonus cost" in result.output
    print(result.output)  # noqa: T201 - the numbers the README quotes (pytest -s shows them)


@pytest.mark.slow
def test_revenue_funnel_is_published_with_its_dictionary_and_diagnosed(org, monkeypatch) -> None:
    monkeypatch.setenv("ORBIT_HOME", str(org.root))
    with duckdb.connect(str(org.published), read_only=True) as con:
        rows = con.execute("SELECT stage, contribution_to_gap, contribution_to_change FROM revenue_funnel "
                           "WHERE period = '2026-Q3' ORDER BY step").fetchall()
        described = {c for (c,) in con.execute(
            "SELECT column_name FROM data_dictionary WHERE table_name = 'revenue_funnel'").fetchall()}
    assert [r[0] for r in rows] == ["leads", "answered", "closed", "win_rate", "average_won_deal", "won_revenue"]
    *stages, total = rows
    assert sum(r[1] for r in stages) == total[1] and sum(r[2] for r in stages) == total[2]  # exact, to the cent
    assert {"figure", "contribution_to_gap", "contribution_to_change", None} <= described
    result = runner.invoke(app, ["diagnose", "--period", "2026-Q3"])
    assert result.exit_code == 0, result.output
    assert f"Where the revenue gap came from (won revenue − target = {'+' if total[1] > 0 else ''}{total[1]:,.2f} EUR)" \
        in result.output
    assert "Change from previous (2026-Q2)" in result.output
    missing = runner.invoke(app, ["diagnose", "--period", "2024-Q1"])
    assert missing.exit_code == 2 and "periods published" in missing.output


@pytest.mark.slow
def test_a_closed_period_is_compared_on_the_data_loaded_now_and_says_so(org, default_plans, monkeypatch) -> None:
    """Runs last: it closes 2026-Q2 of the module's organisation."""
    from flows.close import close_flow
    from orbit.simulate import simulate

    close_flow(org, "2026-Q2")
    sim = simulate(org, default_plans, DEFAULT_PLAN, ["2026-Q2", "2026-Q3"])
    [note] = [n for n in sim.notes if n.startswith("2026-Q2 is closed")]
    assert note.endswith("which gives the frozen bonuses")  # nothing arrived since: no restatement pending
    assert not [n for n in sim.notes if n.startswith("2026-Q3")]
