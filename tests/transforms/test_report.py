from decimal import Decimal

import polars as pl
import pytest

from transforms.report import (
    collect_composites,
    measure_cross_area_share,
    pivot_achievement,
    rank_quarantine_reasons,
    summarise_contribution,
    summarise_quality,
    tabulate_departments,
)

CREDIT = pl.Decimal(38, 2)


def _contribution(rows, model="linear"):
    return pl.DataFrame(
        [{"period": "2026-Q3", "model": model, **r} for r in rows],
        schema={"period": pl.Utf8, "model": pl.Utf8, "department": pl.Utf8, "credit": CREDIT,
                "opportunities": pl.Int64, "share": pl.Float64})


CONTRIBUTION = _contribution([
    {"department": "sales", "credit": Decimal("600.00"), "opportunities": 3, "share": 0.6},
    {"department": "logistics", "credit": Decimal("250.01"), "opportunities": 2, "share": 0.25001},
    {"department": "finance", "credit": Decimal("149.99"), "opportunities": 1, "share": 0.14999},
])


def test_pivot_achievement_puts_shared_metrics_last_and_leaves_unweighted_cells_empty():
    matrix = pl.DataFrame({
        "department": ["sales", "sales", "logistics", "logistics", "finance"],
        "metric": ["closing_index", "contribution", "on_time", "contribution", "contribution"],
        "mean_achievement": [Decimal("1.2"), Decimal("0.5"), Decimal("0.9"), Decimal("0.25"), Decimal("1")],
    }, schema_overrides={"mean_achievement": pl.Decimal(38, 12)})
    grid = pivot_achievement(matrix)
    assert grid.columns == ["department", "closing_index", "on_time", "contribution"]
    assert grid["department"].to_list() == ["finance", "logistics", "sales"]
    assert grid.schema["contribution"] == pl.Float64
    assert grid.row(0) == ("finance", None, None, 1.0)
    assert grid.row(2) == ("sales", 1.2, None, 0.5)


def test_pivot_achievement_of_nothing_is_an_empty_grid():
    empty = pl.DataFrame(schema={"department": pl.Utf8, "metric": pl.Utf8, "mean_achievement": pl.Decimal(38, 12)})
    assert pivot_achievement(empty).columns == ["department"]


def test_summarise_contribution_orders_by_credit_and_marks_sales():
    out = summarise_contribution(CONTRIBUTION)
    assert out["department"].to_list() == ["sales", "logistics", "finance"]
    assert out["area"].to_list() == ["sales", "other", "other"]
    assert out["credit"].to_list() == [Decimal("600.00"), Decimal("250.01"), Decimal("149.99")]
    assert out["credit_value"].to_list() == [600.0, 250.01, 149.99]


def test_summarise_contribution_refuses_credits_of_two_models():
    both = pl.concat([CONTRIBUTION, CONTRIBUTION.with_columns(model=pl.lit("shapley"))])
    with pytest.raises(ValueError, match="several attribution models"):
        summarise_contribution(both)


def test_cross_area_share_is_exact():
    other, total = measure_cross_area_share(CONTRIBUTION)
    assert (other, total) == (Decimal("400.00"), Decimal("1000.00"))
    assert measure_cross_area_share(CONTRIBUTION.head(0)) == (Decimal(0), Decimal(0))


def test_tabulate_departments_keeps_departments_without_credit_or_without_employees():
    scores = pl.DataFrame({
        "period": ["2026-Q3", "2026-Q3"], "department": ["sales", "hr"], "employees": [4, 2],
        "mean_composite": [Decimal("1.1"), Decimal("0.7")], "median_composite": [Decimal("1.0"), Decimal("0.7")],
        "mean_multiplier": [1.2, 0.0], "incomplete_rows": [1, 0],
    }, schema_overrides={"mean_composite": pl.Decimal(38, 12), "median_composite": pl.Decimal(38, 12)})
    table = tabulate_departments(scores, CONTRIBUTION).to_dicts()
    by = {r["department"]: r for r in table}
    assert [r["department"] for r in table] == ["finance", "hr", "logistics", "sales"]
    assert by["hr"]["credit"] == Decimal("0.00") and by["hr"]["share"] == 0.0 and by["hr"]["employees"] == 2
    assert by["finance"]["employees"] == 0 and by["finance"]["incomplete_rows"] == 0
    assert by["finance"]["mean_composite"] is None
    assert by["sales"] == {"department": "sales", "employees": 4, "mean_composite": 1.1, "median_composite": 1.0,
                           "incomplete_rows": 1, "credit": Decimal("600.00"), "share": 0.6}


def test_collect_composites_carries_no_employee_id():
    scores = pl.DataFrame({"employee_id": ["E2", "E1", "E3"], "department": ["sales", "sales", "hr"],
                           "composite": [Decimal("0.9"), Decimal("0.4"), Decimal("1.3")]},
                          schema_overrides={"composite": pl.Decimal(38, 12)})
    out = collect_composites(scores)
    assert out.columns == ["department", "composite"]
    assert out.rows() == [("hr", 1.3), ("sales", 0.4), ("sales", 0.9)]


def test_summarise_quality_shares_quarantined_rows():
    summary = pl.DataFrame({
        "dataset": ["targets", "activities"], "files": [1, 2], "rows_read": [0, 200], "rows_loaded": [0, 190],
        "rows_quarantined": [0, 8], "rows_duplicate": [0, 2], "files_rejected": [1, 0],
    }, schema_overrides={c: pl.Int128 for c in ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")})
    out = summarise_quality(summary)
    assert out["dataset"].to_list() == ["activities", "targets"]
    assert out.schema["rows_loaded"] == pl.Int64
    assert out["quarantined_share"].to_list() == [0.04, 0.0]
    assert out["files_rejected"].to_list() == [0, 1]


def test_rank_quarantine_reasons_most_frequent_first():
    reasons = pl.DataFrame({"dataset": ["feedback", "activities", "activities", "feedback"],
                            "reason": ["null_key", "bad_type", "null_key", "bad_type"], "rows": [1, 2, 5, 2]})
    out = rank_quarantine_reasons(reasons)
    assert out.select("reason", "dataset", "reason_rows").rows() == [
        ("null_key", "activities", 6), ("null_key", "feedback", 6),
        ("bad_type", "activities", 4), ("bad_type", "feedback", 4)]


def test_period_status_words_for_people():
    import datetime as dt

    from transforms.report import day_text, period_status_words

    start, end = dt.date(2026, 10, 1), dt.date(2026, 12, 31)
    assert day_text(start) == "1 October 2026"
    assert period_status_words(None, start, end) == [("open", "Open: its results may still change")]
    closed = {"state": "closed", "closed_at": dt.datetime(2027, 1, 5, 9, tzinfo=dt.timezone.utc),
              "closed_by": "hr", "pending_restatement": True,
              "pending_since": dt.datetime(2027, 1, 20, tzinfo=dt.timezone.utc), "partial": True,
              "partial_reason": "its data starts on 2026-12-01, after its first day 2026-10-01",
              "first_data_day": dt.date(2026, 12, 1), "last_data_day": end}
    assert period_status_words(closed, start, end) == [
        ("closed", "Closed on 5 January 2027 by hr"),
        ("pending", "Pending restatement: later data would change its results (since 20 January 2027)"),
        ("partial", "Partial: its data starts on 2026-12-01, after its first day 2026-10-01"),
        ("data", "Data from 1 December 2026 to 31 December 2026"),
    ]
    complete = {"state": "open", "partial": False, "first_data_day": start, "last_data_day": end}
    assert period_status_words(complete, start, end) == [("open", "Open: its results may still change")]


def test_relabel_replaces_ids_and_keeps_unknown_ones():
    from transforms.report import relabel, relabel_columns

    frame = pl.DataFrame({"department": ["customer_service", "other"], "days_to_invoice": [0.5, None]})
    out = relabel_columns(relabel(frame, "department", {"customer_service": "Customer service"}),
                          {"days_to_invoice": "Days to invoice"})
    assert out.columns == ["department", "Days to invoice"]
    assert out["department"].to_list() == ["Customer service", "other"]
