import datetime as dt
from decimal import Decimal

import polars as pl

from transforms.export import EXPORT_COLUMNS, export_text, guard_text, round_exact, shape_bonus_export


def test_round_exact_half_up_from_exact_rationals():
    assert round_exact("1/3") == "0.333333"
    assert round_exact("2/3") == "0.666667"
    assert round_exact("1/2000000") == "0.000001"  # exactly half: up
    assert round_exact("4/5") == "0.800000"


def test_guard_text_defuses_formulas():
    assert guard_text("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert [guard_text(v) for v in ("+1", "-1", "@a", "Ana")] == ["'+1", "'-1", "'@a", "Ana"]
    assert [guard_text(v) for v in ("\t=1", "\r=1", "A=1", "")] == ["'\t=1", "'\r=1", "A=1", ""]
    assert guard_text(None) == ""


def test_shape_bonus_export_columns_order_and_draft():
    lines = pl.DataFrame({
        "employee_id": ["E2", "E1"], "full_name": ["=cmd", "Ana"], "department": ["sales", "hr"],
        "period": ["2026-Q3"] * 2, "composite_exact": ["1/3", "1"], "multiplier_exact": ["0", "5/4"],
        "bonus_amount": [Decimal("0.00"), Decimal("1250.00")], "currency": ["EUR"] * 2, "incomplete": [True, False],
        "plan_version": ["2026.1"] * 2, "run_id": ["r"] * 2, "missing_policy": ["hold", None],
        "incomplete_reason": ["held (bonus 0 until the data is complete): csat: no actual", None],
        "partial": [True] * 2,
        "first_data_day": [dt.date(2026, 7, 1)] * 2, "last_data_day": [dt.date(2026, 9, 14)] * 2,
    })
    out = shape_bonus_export(lines, draft=True)
    assert out.columns == EXPORT_COLUMNS + ["status"]
    assert out.rows()[0] == ("E1", "Ana", "hr", "2026-Q3", Decimal("1.000000"), Decimal("1.250000"),
                             Decimal("1250.00"), "EUR", False, "2026.1", "r", "", True, dt.date(2026, 7, 1),
                             dt.date(2026, 9, 14), "DRAFT")
    assert out["full_name"][1] == "'=cmd"
    assert out["missing_data"][1] == "hold: held (bonus 0 until the data is complete): csat: no actual"
    assert out.schema["composite"] == pl.Decimal(38, 6) and out.schema["bonus_amount"] == pl.Decimal(18, 2)
    assert out["composite"][1] == Decimal("0.333333")  # rounded half-up from the exact 1/3
    assert export_text(out).rows()[0] == ("E1", "Ana", "hr", "2026-Q3", "1.000000", "1.250000", "1250.00", "EUR",
                                          "false", "2026.1", "r", "", "true", "2026-07-01", "2026-09-14", "DRAFT")
    assert export_text(out).rows()[1][4:9] == ("0.333333", "0.000000", "0.00", "EUR", "true")
    assert shape_bonus_export(lines, draft=False).columns == EXPORT_COLUMNS


def test_export_text_writes_missing_money_as_empty():
    lines = pl.DataFrame({
        "employee_id": ["E1"], "full_name": [None], "department": ["hr"], "period": ["2026-Q3"],
        "composite_exact": ["2/3"], "multiplier_exact": ["1/2000000"], "bonus_amount": [None], "currency": [None],
        "incomplete": [True], "plan_version": ["1"], "run_id": ["r"], "missing_policy": ["zero"],
        "incomplete_reason": ["csat: no actual (counted as 0)"], "partial": [False], "first_data_day": [None],
        "last_data_day": [None],
    }, schema_overrides={"bonus_amount": pl.Decimal(18, 2), "full_name": pl.Utf8, "currency": pl.Utf8,
                         "first_data_day": pl.Date, "last_data_day": pl.Date})
    assert export_text(shape_bonus_export(lines, draft=False)).row(0) == (
        "E1", "", "hr", "2026-Q3", "0.666667", "0.000001", "", "", "true", "1", "r",
        "zero: csat: no actual (counted as 0)", "false", "", "")


def test_check_export_allows_only_a_closed_period_on_one_run_unless_draft():
    import pytest

    from transforms.export import ExportError, check_export

    ok = dict(evaluated=True, state="closed", closed_run="r1", runs={"r1"})
    check_export("2026-Q3", "xlsx", False, **ok)
    with pytest.raises(ExportError, match="format 'pdf'"):
        check_export("2026-Q3", "pdf", False, **ok)
    with pytest.raises(ExportError, match="no evaluated results for period 2026-Q3"):
        check_export("2026-Q3", "csv", True, **{**ok, "evaluated": False})
    with pytest.raises(ExportError, match="not closed"):
        check_export("2026-Q3", "csv", False, **{**ok, "state": "open", "closed_run": None})
    check_export("2026-Q3", "csv", True, **{**ok, "state": "open", "closed_run": None})  # a draft
    with pytest.raises(ExportError, match="closed on run r1 but holds other results"):
        check_export("2026-Q3", "csv", False, **{**ok, "runs": {"r1", "r2"}})
