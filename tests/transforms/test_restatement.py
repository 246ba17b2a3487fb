import datetime as dt
from decimal import Decimal

import polars as pl

from transforms.restatement import RESTATEMENT_COLUMNS, compare_figures, has_changes, restate_period
from transforms.scoring import DISPLAY, MONEY

SCHEMA = {"employee_id": pl.Utf8, "composite": DISPLAY, "composite_exact": pl.Utf8, "multiplier_exact": pl.Utf8,
          "bonus_amount": MONEY}


def figures(rows):
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


OLD = figures([("E1", Decimal("1"), "1", "1", Decimal("1000.00")),
               ("E2", Decimal("0.5"), "1/2", "0", Decimal("0.00")),
               ("E3", Decimal("0.9"), "9/10", "3/4", Decimal("750.00"))])


def test_unchanged_figures_are_no_restatement():
    comparison = compare_figures(OLD, OLD.sample(fraction=1.0, shuffle=True, seed=1))
    assert not has_changes(comparison)
    assert comparison["difference"].to_list() == [Decimal("0.00")] * 3


def test_changes_joiners_and_leavers_are_found_with_exact_differences():
    new = figures([("E1", Decimal("1"), "1", "1", Decimal("1000.00")),
                   ("E2", Decimal("0.8"), "4/5", "1/2", Decimal("512.35")),   # changed
                   ("E4", Decimal("1"), "1", "1", Decimal("20.01"))])         # only in the new figures
    comparison = compare_figures(OLD, new)
    assert has_changes(comparison)
    by_id = {r["employee_id"]: r for r in comparison.iter_rows(named=True)}
    assert [r["changed"] for r in comparison.iter_rows(named=True)] == [False, True, True, True]
    assert by_id["E2"]["difference"] == Decimal("512.35")
    assert by_id["E3"]["difference"] == Decimal("-750.00") and by_id["E3"]["new_composite"] is None
    assert by_id["E4"]["difference"] == Decimal("20.01") and by_id["E4"]["old_bonus_amount"] is None
    assert comparison.schema["difference"] == MONEY


def test_a_composite_change_without_money_is_still_a_change():
    new = OLD.with_columns(pl.when(pl.col("employee_id") == "E2").then(pl.lit("2/5")).otherwise("composite_exact")
                           .alias("composite_exact"))
    assert has_changes(compare_figures(OLD, new))


def test_restatement_rows_carry_both_runs_and_the_reason():
    new = OLD.with_columns(pl.col("bonus_amount") + pl.lit(Decimal("1.00")))
    at = dt.datetime(2026, 10, 3, 9, 0, tzinfo=dt.timezone.utc)
    rows = restate_period(compare_figures(OLD, new), period="2026-Q3", old_run_id="a", new_run_id="b",
                          reason="late opportunities file", restated_at=at)
    assert rows.columns == RESTATEMENT_COLUMNS
    assert rows.height == 3
    assert rows.row(0) == ("2026-Q3", "E1", "a", "b", Decimal("1.000000000000"), Decimal("1.000000000000"),
                           Decimal("1000.00"), Decimal("1001.00"), Decimal("1.00"), "late opportunities file", at)


class _Frozen:
    def __init__(self, run_id, figures):
        self.run_id, self.figures = run_id, figures


class _Result:
    def __init__(self, label, scores):
        from transforms.periods import parse_period

        self.period, self.scores = parse_period(label), scores


def test_compare_closed_flags_pending_or_restates_and_leaves_open_periods_alone():
    import pytest

    from transforms.restatement import PeriodStateError, check_restate, compare_closed

    at = dt.datetime(2026, 10, 2, tzinfo=dt.timezone.utc)
    changed = OLD.with_columns(pl.when(pl.col("employee_id") == "E2").then(pl.lit(Decimal("9.99")))
                               .otherwise(pl.col("bonus_amount")).alias("bonus_amount"))
    closed = {"2026-Q1": _Frozen("r1", OLD), "2026-Q2": _Frozen("r2", OLD)}
    results = [_Result("2026-Q1", OLD), _Result("2026-Q2", changed), _Result("2026-Q3", changed)]
    pending, restatements = compare_closed(results, closed, {}, "new", at)
    assert pending == {"2026-Q1": False, "2026-Q2": True} and restatements == []

    pending, restatements = compare_closed(results, closed, {"2026-Q2": "late invoices"}, "new", at)
    assert pending == {"2026-Q1": False}
    [r] = restatements
    assert (r.period, r.closed_run_id, r.reason, r.changed) == ("2026-Q2", "r2", "late invoices", 1)
    assert r.rows.columns == RESTATEMENT_COLUMNS and r.rows["new_run_id"].unique().to_list() == ["new"]

    with pytest.raises(PeriodStateError, match="2026-Q4 could not be recomputed"):
        compare_closed(results, {**closed, "2026-Q4": _Frozen("r4", OLD)}, {"2026-Q4": "why"}, "new", at)
    with pytest.raises(PeriodStateError, match="2026-Q3 is not closed"):
        check_restate({"2026-Q3": "why"}, closed)
    check_restate({"2026-Q1": "why"}, closed)
