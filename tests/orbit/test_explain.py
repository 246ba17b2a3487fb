"""`orbit explain` (orbit.explain): the statement's model in a terminal, on the tiny organisation's evaluated
2026-Q1 (figures worked out by hand in tests/tiny_org.py): capped flags, fte and days employed, where the
composite sits on the payout curve, money written one way, and JSON with decimals beside exact rationals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest

from orbit.explain import NothingToExplain, gather_explanation, render_explanation, to_json
from schemas.plan import PlanSet
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
        for name, frame in tiny_org.frames().items():
            if frame.height:
                con.register("_rows", frame.with_columns(_file=pl.lit(f"{name}/x.csv"), _loaded_at=pl.lit(T0)))
                con.execute(f"INSERT INTO {name} ({', '.join(frame.columns)}, _file, _loaded_at) SELECT * FROM _rows")
                con.unregister("_rows")
    return path


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "tiny.yaml"
    path.write_text(tiny_org.PLAN_YAML, encoding="utf-8")
    return PlanSet.load(path)


@pytest.fixture()
def con(warehouse):
    with open_warehouse(warehouse, read_only=True) as con:
        yield con


def test_gathers_the_statement_model(con, plans):
    plan, s = gather_explanation(con, "E1", tiny_org.PERIOD, plans)
    assert plan.name == "tiny"
    assert (s.employee_id, s.full_name, s.department, s.role) == ("E1", "Ana Ruiz", "sales", "account_executive")
    assert (s.plan_version, s.run_id) == ("2026.1", "0123456789abcdef")
    assert [(m.metric, m.actual, m.achievement, m.capped, m.included) for m in s.metrics] == [
        ("closing_index", Fraction(1, 2), Fraction(3, 2), True, True),  # 1/2 against 0.30 = 5/3, capped at 3/2
        ("contribution", Fraction("3333.34"), Fraction(166667, 250000), False, True),
        ("company_revenue", Fraction(10000), Fraction(1, 250), False, True),
    ]
    assert (s.composite, s.multiplier, s.incomplete, s.incomplete_reason) == (
        Fraction(2377001, 2500000), Fraction(877001, 1000000), False, None)
    b = s.bonus
    assert (b.bonus_target, b.period_share, b.fte, b.days_employed, b.fte_days, b.days_in_period, b.amount) == (
        Decimal("12000.00"), Fraction(1, 4), 1, 90, 90, 90, Decimal("2631.00"))
    [o] = s.opportunities
    assert (o.opportunity_id, o.credit, o.amount, o.touch_types, o.closed_on) == (
        "O1", Decimal("3333.34"), Decimal("10000.00"), ("first_contact",), dt.date(2026, 2, 15))
    assert s.contribution_total == Decimal("3333.34")


def test_shows_each_figure_one_way_and_how_the_bonus_was_made(con, plans):
    text = render_explanation(*gather_explanation(con, "E1", tiny_org.PERIOD, plans))
    lines = text.splitlines()
    assert lines[0] == "E1 Ana Ruiz — Sales / account_executive — 2026-Q1 (2026-01-01 to 2026-03-31, open, partial)"
    assert lines[1] == "plan tiny 2026.1, run 0123456789ab"
    [closing] = [line for line in lines if line.startswith("Closing index")]
    assert closing.split() == ["Closing", "index", "50%", "30%", "(plan)", "150%", "capped", "50%", "50%", "0.75"]
    assert "composite          = Σ used weight × achievement = 0.9508" in lines
    assert "payout multiplier  = the payout curve at the composite = 0.877001" in lines
    assert any("between (0.8, 0.5) and (1, 1)" in line for line in lines)
    assert ("bonus              = bonus target €12,000.00 × period share 1/4 × fte 1 × 90 days employed / 90 days "
            "× multiplier 0.877001") in lines
    assert "                   = €2,631.00 (half-up to cents, once)" in lines
    assert "Commercial contribution: €3,333.34 from 1 won opportunities" in lines
    assert "capped at 150%" in text and "INCOMPLETE" not in text
    # one way for money: never the raw 4-decimal or the fraction forms
    assert "2631.0000" not in text and "(= " not in text and "12000.00" not in text


def test_fte_is_shown_for_a_part_timer(con, plans):
    _, s = gather_explanation(con, "E3", tiny_org.PERIOD, plans)
    assert (s.bonus.fte, s.bonus.days_employed, s.bonus.fte_days) == (Fraction(1, 2), 90, 45)
    assert "fte 0.5 × 90 days employed / 90 days" in render_explanation(*gather_explanation(con, "E3",
                                                                                           tiny_org.PERIOD, plans))


def test_an_incomplete_row_says_why(con, plans):
    plan, s = gather_explanation(con, "E4", tiny_org.PERIOD, plans)
    assert (s.incomplete, s.incomplete_reason) == (True, "csat: no actual")
    [csat] = [m for m in s.metrics if m.metric == "csat"]
    assert (csat.included, csat.reason, csat.effective_weight) == (False, "no_actual", 0)
    text = render_explanation(plan, s)
    assert "INCOMPLETE: csat: no actual (weights of the remaining metrics renormalised)" in text
    assert "left out: no_actual" in text
    assert "Commercial contribution: €0.00 from 0 won opportunities" in text


def test_other_languages_write_numbers_their_way(con, plans):
    text = render_explanation(*gather_explanation(con, "E1", tiny_org.PERIOD, plans), "es")
    assert "                   = 2.631,00\xa0€ (half-up to cents, once)" in text.splitlines()
    assert "= 0,9508" in text


def test_nothing_to_explain_says_what_to_do(con, plans):
    with pytest.raises(NothingToExplain, match="E9 was not employed in 2026-Q1"):
        gather_explanation(con, "E9", tiny_org.PERIOD, plans)
    with pytest.raises(NothingToExplain, match=r"period 2025-Q4 has not been evaluated \(evaluated: 2026-Q1\); "
                                               r"`orbit evaluate --period 2025-Q4` evaluates it if it holds data"):
        gather_explanation(con, "E1", "2025-Q4", plans)
    # a month on a quarterly plan: never suggest `orbit evaluate --period 2026-02`, which would be refused
    with pytest.raises(NothingToExplain) as err:
        gather_explanation(con, "E1", "2026-02", plans)
    assert str(err.value) == ("nothing to explain for E1 in 2026-02: period 2026-02 is a month, but the plan "
                              "evaluates by quarter: use 2026-Q1")


def test_with_nothing_evaluated_the_hint_is_to_run(tmp_path, plans):
    with open_warehouse(tmp_path / "w.duckdb") as empty, pytest.raises(NothingToExplain, match="run `orbit run`"):
        gather_explanation(empty, "E1", "2026-Q1", plans)


def test_more_than_twenty_opportunities_are_cut_short(con, plans):
    plan, s = gather_explanation(con, "E1", tiny_org.PERIOD, plans)
    many = dataclasses.replace(s, opportunities=s.opportunities * 23)
    lines = render_explanation(plan, many).splitlines()
    assert sum(line.startswith("  O1 ") for line in lines) == 20
    assert lines[-1] == "  … and 3 more (use --json for all)"


def test_json_gives_decimals_beside_exact_rationals(con, plans):
    _, s = gather_explanation(con, "E1", tiny_org.PERIOD, plans)
    back = json.loads(to_json(s))
    assert back["composite"] == {"exact": "2377001/2500000", "decimal": "0.950800"}
    assert back["multiplier"] == {"exact": "877001/1000000", "decimal": "0.877001"}
    assert back["bonus"]["amount"] == "2631.00" and back["bonus"]["period_share"] == {"exact": "1/4",
                                                                                      "decimal": "0.250000"}
    assert back["metrics"][0]["capped"] is True
    assert back["metrics"][0]["achievement"] == {"exact": "3/2", "decimal": "1.500000"}
    assert back["opportunities"][0]["closed_on"] == "2026-02-15"
    assert back["contribution_total"] == "3333.34"
    assert back["payout_curve"][2] == [{"exact": "4/5", "decimal": "0.800000"}, {"exact": "1/2", "decimal": "0.500000"}]
    with pytest.raises(TypeError):
        to_json({"x": object()})
