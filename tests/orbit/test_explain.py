"""`orbit explain` (orbit.explain): what it gathers from the warehouse and how it shows it, on the tiny
organisation's evaluated 2026-Q1 (figures worked out by hand in tests/tiny_org.py)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest

from orbit.explain import NothingToExplain, gather_explanation, render_explanation, to_json
from tests import tiny_org
from transforms.quality import find_orphans
from warehouse.db import open_warehouse
from warehouse.marts import write_period_marts

T0 = dt.datetime(2026, 4, 3, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    result = tiny_org.evaluate()
    path = tmp_path_factory.mktemp("explain") / "warehouse.duckdb"
    with open_warehouse(path) as con:
        write_period_marts(con, [result], run_id="0123456789abcdef", input_hashes=["h"], started_at=T0,
                           quality=find_orphans(tiny_org.frames(), sorted(result.plan.metrics)))
        opportunities = tiny_org.frames()["opportunities"].with_columns(_file=pl.lit("opportunities/o.csv"))
        con.register("_o", opportunities)
        con.execute(f"INSERT INTO opportunities ({', '.join(opportunities.columns)}, _loaded_at) "
                    f"SELECT *, now() FROM _o")
        con.unregister("_o")
    return path


@pytest.fixture()
def con(warehouse):
    with open_warehouse(warehouse, read_only=True) as con:
        yield con


def test_gathers_the_metrics_the_composite_the_bonus_arithmetic_and_the_contribution(con):
    x = gather_explanation(con, "E1", tiny_org.PERIOD)
    assert (x["employee_id"], x["full_name"], x["department"], x["role"]) == (
        "E1", "Ana Ruiz", "sales", "account_executive")
    assert (x["plan_version"], x["run_id"]) == ("2026.1", "0123456789abcdef")
    assert [(m["metric"], m["actual_exact"], m["achievement_exact"], m["included"]) for m in x["metrics"]] == [
        ("closing_index", "1/2", "3/2", True),  # by weight, largest first
        ("contribution", "166667/50", "166667/250000", True),
        ("company_revenue", "10000", "1/250", True),
    ]
    assert (x["composite"], x["payout_multiplier"], x["incomplete"], x["incomplete_reason"]) == (
        "2377001/2500000", "877001/1000000", False, None)
    assert x["bonus"] == {"bonus_target": Decimal("12000.00"), "period_share": "1/4", "fte_days": Decimal("90"),
                          "days_in_period": 90, "multiplier": "877001/1000000",
                          "bonus_amount": Decimal("2631.00"), "currency": "EUR"}
    [credit] = x["contribution"]
    assert (credit["opportunity_id"], credit["credit"], credit["amount"], credit["owner_employee_id"]) == (
        "O1", Decimal("3333.34"), Decimal("10000.00"), "E1")
    assert x["contribution_total"] == Decimal("3333.34")


def test_shows_each_figure_and_how_the_bonus_was_made(con):
    text = render_explanation(gather_explanation(con, "E1", tiny_org.PERIOD))
    lines = text.splitlines()
    assert lines[0] == "E1 Ana Ruiz — sales / account_executive — 2026-Q1"
    assert lines[1] == "plan 2026.1, run 0123456789ab"
    [closing] = [line for line in lines if line.startswith("closing_index")]
    assert closing.split() == ["closing_index", "0.5000", "0.3000", "(plan)", "1.5000", "0.500", "0.500", "0.7500"]
    assert "composite          = Σ used weight × achievement = 0.950800 (= 2377001/2500000)" in lines
    assert "payout multiplier  = payout curve at the composite = 0.877001" in lines
    assert ("bonus              = bonus target 12000.00 × period share 1/4 × fte-days 90.00 / 90 days × "
            "multiplier = 2631.00 EUR (half-up to cents, once)") in lines
    assert "Commercial contribution: 3333.34 from 1 won opportunities" in lines
    assert "INCOMPLETE" not in text


def test_an_incomplete_row_says_why(con):
    x = gather_explanation(con, "E4", tiny_org.PERIOD)
    assert (x["incomplete"], x["incomplete_reason"]) == (True, "csat: no actual")
    [csat] = [m for m in x["metrics"] if m["metric"] == "csat"]
    assert (csat["included"], csat["reason"], csat["effective_weight"]) == (False, "no_actual", Decimal(0))
    text = render_explanation(x)
    assert "INCOMPLETE: csat: no actual (weights of the remaining metrics renormalised)" in text
    assert "removed: no_actual" in text
    assert "Commercial contribution: 0.00 from 0 won opportunities" in text


def test_nothing_to_explain_says_what_to_do(con):
    with pytest.raises(NothingToExplain, match="E9 was not employed in 2026-Q1"):
        gather_explanation(con, "E9", tiny_org.PERIOD)
    with pytest.raises(NothingToExplain, match=r"period 2025-Q4 has not been evaluated \(evaluated: 2026-Q1\); "
                                               r"`orbit evaluate --period 2025-Q4` evaluates it if it holds data"):
        gather_explanation(con, "E1", "2025-Q4")
    # a month on a quarterly plan: never suggest `orbit evaluate --period 2026-02`, which would be refused
    with pytest.raises(NothingToExplain) as err:
        gather_explanation(con, "E1", "2026-02")
    assert str(err.value) == ("nothing to explain for E1 in 2026-02: period 2026-02 is a month, but the plan "
                              "evaluates by quarter: use 2026-Q1")


def test_with_nothing_evaluated_the_hint_is_to_run(tmp_path):
    from warehouse.db import open_warehouse

    with open_warehouse(tmp_path / "w.duckdb") as empty, pytest.raises(NothingToExplain, match="run `orbit run`"):
        gather_explanation(empty, "E1", "2026-Q1")


def test_more_than_twenty_opportunities_are_cut_short():
    credit = {"opportunity_id": "O", "department": "sales", "model": "linear", "credit": Decimal("1.00"),
              "share": Decimal("0.5"), "amount": Decimal("2.00"), "owner_employee_id": "E1"}
    x = {"employee_id": "E1", "full_name": None, "department": "sales", "role": "seller", "period": "2026-Q1",
         "plan_version": "1", "run_id": "r", "metrics": [], "composite": "0", "payout_multiplier": "0",
         "incomplete": False, "incomplete_reason": None, "contribution": [credit] * 23,
         "contribution_total": Decimal("23.00"),
         "bonus": {"bonus_target": None, "period_share": "1/4", "fte_days": None, "days_in_period": 90,
                   "bonus_amount": None, "currency": None}}
    lines = render_explanation(x).splitlines()
    assert lines[0] == "E1  — sales / seller — 2026-Q1"
    assert sum(line.startswith("  O ") for line in lines) == 20
    assert lines[-1] == "  … and 3 more (use --json for all)"
    assert "fte-days — / 90 days" in render_explanation(x)


def test_json_keeps_exact_values_as_text(con):
    x = gather_explanation(con, "E1", tiny_org.PERIOD)
    back = json.loads(to_json(x))
    assert back["bonus"]["bonus_amount"] == "2631.00" and back["composite"] == "2377001/2500000"
    assert back["contribution"][0]["closed_at"].startswith("2026-02-15T15:00:00")
    assert back["contribution_total"] == "3333.34"
    with pytest.raises(TypeError):
        to_json({"x": object()})
