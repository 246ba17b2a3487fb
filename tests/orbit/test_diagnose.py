"""`orbit diagnose`: the hand-computed funnel of tests/transforms/test_funnel.py, as people read it."""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from orbit.cli import app
from orbit.diagnose import render_diagnosis
from tests.transforms.test_funnel import Q3, frames, plan
from transforms.funnel import revenue_funnel

runner = CliRunner()


def test_diagnosis_text_shows_the_chain_and_both_decompositions() -> None:
    o, a = frames()
    rows = revenue_funnel(plan(), Q3, o, a).with_columns(pl.lit("golden.1").alias("plan_version"))
    text = render_diagnosis(rows, "EUR")
    lines = text.splitlines()
    assert lines[0] == "Revenue funnel 2026-Q3 (plan golden.1):"
    leads = next(line for line in lines if line.strip().startswith("Leads handed over by marketing"))
    assert leads.split()[-3:] == ["4", "5", "2"]  # figure, target, previous
    assert "2 (50.0 %)" in text and "4 (80.0 %)" in text  # answered: 2 of 4; target 5 x 0.8 = 4
    assert "4 (2.00 per answered)" in text and "7,500.00" in text and "20,000.00" in text
    assert "Where the revenue gap came from (won revenue − target = -5,000.00 EUR):" in text
    gap = text.split("Where the revenue gap came from")[1].split("Change from")[0]
    assert "-3,878.30 EUR" in gap and "-8,168.80 EUR" in gap and "+7,047.10 EUR" in gap
    change = text.split("Change from previous (2026-Q2) (+7,000.00 EUR):")[1]
    assert "+7,718.68 EUR" in change and "-718.68 EUR" in change


def test_diagnose_has_help_and_refuses_an_unpublished_period(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    assert runner.invoke(app, ["diagnose", "--help"]).exit_code == 0
    result = runner.invoke(app, ["diagnose", "--period", "2026-Q3"])
    assert result.exit_code == 2 and "nothing published" in result.output
    assert runner.invoke(app, ["diagnose", "--period", "2026-Q5"]).exit_code == 2
