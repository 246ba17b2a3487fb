import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orbit.cli import app
from warehouse.home import DEFAULT_PLAN

runner = CliRunner()
VERBS = [["demo"], ["generate"], ["ingest"], ["evaluate"], ["run"], ["publish"], ["close"], ["reopen"],
         ["export", "bonus"], ["explain"], ["statements"], ["report"], ["serve"], ["status"], ["audit", "verify"]]


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help(verb):
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_bad_plan_exits_2_naming_file_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_PLAN.read_text().replace("achievement_cap: 1.5", "achievement_cap: -2"))
    result = runner.invoke(app, ["generate", "--employees", "20", "--months", "1", "--plan", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:" in result.output and "achievement_cap" in result.output


def test_bad_period_and_missing_warehouse_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    result = runner.invoke(app, ["export", "bonus", "--period", "2026-13", "--draft"])
    assert result.exit_code == 2 and "2026-07" in result.output
    result = runner.invoke(app, ["export", "bonus", "--period", "2026-Q3", "--draft"])
    assert result.exit_code == 2 and "orbit run" in result.output
    assert runner.invoke(app, ["status"]).exit_code == 2


def test_demo_refuses_a_home_with_other_data(tmp_path, monkeypatch):
    (tmp_path / "precious.csv").write_text("x")
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 2 and (tmp_path / "precious.csv").exists()


@pytest.mark.slow
def test_command_line_end_to_end(tmp_path):
    """What an operator types: generate, run, status, draft export — as subprocesses."""
    env = {**os.environ, "ORBIT_HOME": str(tmp_path / "home")}
    orbit = [sys.executable, "-m", "orbit"]

    def call(*args):
        return subprocess.run([*orbit, *args], env=env, capture_output=True, text=True, timeout=300)

    gen = call("generate", "--employees", "40", "--months", "3", "--seed", "5", "--end-date", "2026-09-30",
               "--bad-rows", "0.02")
    assert gen.returncode == 0, gen.stderr
    run = call("run")
    assert run.returncode == 0, run.stderr
    assert "activities/activities_2026-09-30.csv" in run.stdout
    status = call("status")
    assert status.returncode == 0, status.stderr
    assert "quarantined" in status.stdout and "2026-Q3" in status.stdout
    final = call("export", "bonus", "--period", "2026-Q3")
    assert final.returncode == 2 and "--draft" in final.stderr
    draft = call("export", "bonus", "--period", "2026-Q3", "--draft")
    assert draft.returncode == 0, draft.stderr
    assert Path(tmp_path / "home" / "exports" / "bonus_2026-Q3_DRAFT.csv").exists()
    assert call("audit", "verify").returncode == 0


PLAN_ERRORS = [
    ("sales:            {closing_index: 0.5,", "sales:            {closing_index: 0.4,", "weights.sales",
     "must sum to 1"),
    ("{closing_index: 0.5, contribution: 0.3", "{closing_idx: 0.5, contribution: 0.3", "weights.sales.closing_idx",
     "not defined"),
    ("kind: prospecting_index", "kind: prospects", "metrics.prospecting.kind", "prospecting_index"),
    ("[1.0, 1.0], [1.5, 2.0]", "[1.5, 2.0], [1.0, 1.0]", "payout_curve", "sorted"),
    ("timezone: America/Bogota", "timezone: Mars/Olympus", "timezone", "unknown timezone"),
    ("target: 0.995, cap: 1.05,", "target: 0.995, cap: -1,", "metrics.uptime.cap", "greater than or equal to 0"),
]


@pytest.mark.parametrize("old,new,field,message", PLAN_ERRORS, ids=[e[2] for e in PLAN_ERRORS])
def test_each_plan_error_exits_2_with_file_line_and_field(tmp_path, monkeypatch, old, new, field, message):
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    text = DEFAULT_PLAN.read_text()
    assert old in text
    broken = text.replace(old, new, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(broken)
    line = next(i for i, l in enumerate(broken.splitlines(), 1) if new in l)
    result = runner.invoke(app, ["evaluate", "--plan", str(bad)])
    assert result.exit_code == 2, result.output
    assert f"{bad}:" in result.output and f": {field}:" in result.output and message in result.output
    if field != "payout_curve":  # the curve's line is where the list starts
        assert f"{bad}:{line}:" in result.output


REFUSED = [(["export", "bonus", "--period", "2026-Q3", "--format", "pdf"], "--format must be csv or xlsx"),
           (["evaluate", "--period", "2026-13"], "invalid period"),
           (["close", "--period", "Q3"], "invalid period")]


@pytest.mark.parametrize("args,message", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_bad_arguments_are_refused_before_any_heavy_import(tmp_path, args, message):
    """Exit 2 with the reason, without importing Prefect, Great Expectations or DuckDB (the refusal is instant)."""
    probe = ("import sys\nfrom orbit.cli import app\n"
             f"try:\n    app({args!r})\nexcept SystemExit as e:\n"
             "    print(e.code, sorted(m for m in ('prefect', 'great_expectations', 'duckdb') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "ORBIT_HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert message in result.stderr


@pytest.mark.slow
def test_demo_leaves_the_home_owner_only_but_the_snapshot(tmp_path):
    """Compensation data is its owner's alone: warehouse, landing, quarantine, exports, reports owner-only;
    published/ readable by analysts (and the home traversable to reach it). A one-off run starts no
    Prefect: no Prefect state is left in the home or the Prefect home."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(ORBIT_HOME=str(home), PREFECT_HOME=str(tmp_path / "prefect-home"))
    demo = subprocess.run([sys.executable, "-m", "orbit", "demo", "--employees", "10", "--months", "3"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr

    def mode(path: Path) -> int:
        return path.stat().st_mode & 0o777

    assert mode(home) == 0o755 and mode(home / "published") == 0o755
    assert mode(home / "published" / "analytics.duckdb") == 0o644
    parquet = (home / "published" / "parquet").resolve()
    assert mode(parquet) == 0o755 and {mode(p) for p in parquet.iterdir()} == {0o644}
    assert mode(home / "warehouse.duckdb") == 0o600
    private_dirs = [home / d for d in ("landing", "quarantine", "exports", "reports")]
    private_dirs += [p for d in private_dirs for p in d.rglob("*") if p.is_dir()]
    assert {str(d.relative_to(home)): mode(d) for d in private_dirs} == \
        {str(d.relative_to(home)): 0o700 for d in private_dirs}
    files = [p for d in ("landing", "quarantine", "exports", "reports") for p in (home / d).rglob("*") if p.is_file()]
    files += [home / ".writer.lock", home / ".orbit-demo"]
    assert files and {str(f.relative_to(home)): mode(f) for f in files} == \
        {str(f.relative_to(home)): 0o600 for f in files}
    assert not (tmp_path / "prefect-home").exists() and not (home / "prefect").exists()


def test_an_empty_landing_is_said_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path / "home"))
    empty = runner.invoke(app, ["ingest"])
    assert empty.exit_code == 0, empty.output
    assert "landing/ is empty: no file delivered to" in empty.output
    folder = tmp_path / "home" / "landing" / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.csv").write_text("survey_id,customer_id,responded_at,score\nS1,C1,2026-05-02T10:00:00Z,9\n")
    first = runner.invoke(app, ["ingest"])
    assert first.exit_code == 0 and "feedback/feedback.csv" in first.output, first.output
    for verb in ("ingest", "run"):
        again = runner.invoke(app, [verb])
        assert again.exit_code == 0, again.output
        assert "no new files in landing/ (1 file(s) there were ingested before)" in again.output
