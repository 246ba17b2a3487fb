"""An activity type that pays nothing is said out loud: `orbit run`, `orbit evaluate`, data_quality, `orbit status`."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from typer.testing import CliRunner

from orbit.cli import app
from orbit.synth.profile import ACTIVITY_TYPES
from schemas.contracts import ENGINE_ACTIVITY_TYPES
from transforms.quality import plan_activity_types
from warehouse.home import Home

END = dt.date(2026, 9, 30)
runner = CliRunner()
WARNING = ("warning: activity type 'Ticket_Resolved' pays nothing: 3 row(s) (2026-Q3: 3) that neither the engine "
           "nor the plan counts; did you mean 'ticket_resolved'?")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory, default_plans):
    """A small generated company, plus a file of 3 activities typed `Ticket_Resolved`, run with `orbit run`."""
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("orbit") / "home").ensure()
    frames = generate_org(employees=20, months=3, seed=5, end_date=END, plan=default_plans.base)
    write_org(frames, home.landing, end_date=END)
    who = frames["employees"].filter(frames["employees"]["department"] == "customer_service").row(0, named=True)
    lines = ["event_id,occurred_at,employee_id,department,activity_type"] + [
        f"TR{i},2026-08-0{i}T10:00:00Z,{who['employee_id']},customer_service,Ticket_Resolved" for i in (1, 2, 3)]
    (home.landing / "activities" / "tickets_2026-08.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("ORBIT_HOME", str(home.root))
    mp.delenv("PREFECT_API_URL", raising=False)
    try:
        result = runner.invoke(app, ["run"])
        yield home, result
    finally:
        mp.undo()


def test_the_run_says_so(delivered):
    _, result = delivered
    assert result.exit_code == 0, result.output
    assert WARNING in result.output


def test_it_is_loaded_and_found_in_data_quality(delivered, default_plans):
    home, _ = delivered
    with duckdb.connect(str(home.published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM activities WHERE activity_type = 'Ticket_Resolved'").fetchall() == [
            (3,)]
        found = con.execute('SELECT period, dataset, rows, examples FROM data_quality '
                            'WHERE "check" = \'unknown_activity_type\'').fetchall()
    assert ("2026-Q3", "activities", 3, "Ticket_Resolved") in found
    # the generator's own types that the default plan does not count are reported as well, and nothing else
    counted = ENGINE_ACTIVITY_TYPES + tuple(t for p in default_plans.plans for t in plan_activity_types(p))
    assert {t for *_, t in found} - {"Ticket_Resolved"} == set(ACTIVITY_TYPES) - set(counted)


def test_evaluate_and_status_say_so_too(delivered, monkeypatch):
    home, _ = delivered
    monkeypatch.setenv("ORBIT_HOME", str(home.root))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    evaluated = runner.invoke(app, ["evaluate", "--period", "2026-Q3"])
    assert evaluated.exit_code == 0, evaluated.output
    assert WARNING in evaluated.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    section = status.output.split("Activity types that pay nothing", 1)[1]
    assert "'Ticket_Resolved' pays nothing: 3 row(s) (2026-Q3: 3)" in section.split("Periods:")[0]
