import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from schemas.contracts import DATASETS
from transforms.ingest import cast_rows, check_columns, collect_quarantine, split_duplicates

OPPS = DATASETS["opportunities"]
UTC = dt.timezone.utc


def _raw(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={k: pl.Utf8 for k in rows[0]})
    return frame.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))


def _opp(**over) -> dict:
    row = {"opportunity_id": "O1", "customer_id": "C1", "created_at": "2026-01-01T10:00:00-05:00", "stage": "won",
           "amount": "100.50", "currency": "EUR", "owner_employee_id": "E1", "source": "marketing",
           "closed_at": "2026-02-01T00:00:00Z"}
    row.update(over)
    return row


def test_check_columns_reports_missing_and_extra():
    missing, extra = check_columns(["opportunity_id", "customer", "colour"], OPPS)
    assert "customer_id" in missing and "closed_at" not in missing  # closed_at is optional
    assert extra == ["customer", "colour"]


def test_cast_rows_types_and_timezones():
    typed, problems = cast_rows(_raw([_opp(), _opp(opportunity_id="O2", created_at="2026-09-30T23:30:00")]), OPPS,
                                "America/Bogota")
    assert problems.height == 0
    assert typed["amount"].to_list() == [Decimal("100.50")] * 2
    assert typed["created_at"][0] == dt.datetime(2026, 1, 1, 15, tzinfo=UTC)
    # a timestamp without an offset is read in the plan's timezone
    assert typed["created_at"][1] == dt.datetime(2026, 10, 1, 4, 30, tzinfo=UTC)
    assert typed["closed_at"][0] == dt.datetime(2026, 2, 1, tzinfo=UTC)


def test_cast_rows_flags_unparsable_values_never_nulls_them_silently():
    raw = _raw([_opp(amount="1.234,56"), _opp(opportunity_id="O2", created_at="31/02/2026"),
                _opp(opportunity_id="O3", amount="12.345"), _opp(opportunity_id="O4", amount="1e3")])
    typed, problems = cast_rows(raw, OPPS, "UTC")
    assert problems.select("_line", "column").rows() == [(2, "amount"), (3, "created_at"), (4, "amount"), (5, "amount")]
    assert set(problems["reason"]) == {"bad_type"}


def test_cast_rows_keeps_extra_columns_as_json():
    typed, _ = cast_rows(_raw([_opp(colour="red")]), OPPS, "UTC")
    assert typed["extra"][0] == '{"colour":"red"}'


def test_blank_optional_values_are_null_not_errors():
    typed, problems = cast_rows(_raw([_opp(stage="open", closed_at="  ")]), OPPS, "UTC")
    assert problems.height == 0 and typed["closed_at"][0] is None


def test_split_duplicates_exact_copies_count_once_conflicts_all_quarantined():
    raw = _raw([_opp(), _opp(), _opp(opportunity_id="O2"), _opp(opportunity_id="O2", amount="1.00"),
                _opp(opportunity_id="O2"), _opp(opportunity_id="O3")])
    typed, _ = cast_rows(raw, OPPS, "UTC")
    unique, conflicts, n_dup = split_duplicates(typed, OPPS)
    assert unique["opportunity_id"].to_list() == ["O1", "O3"]
    assert conflicts["_line"].to_list() == [4, 5, 6]
    assert n_dup == 1
    assert unique.height + conflicts.height + n_dup == raw.height


@given(st.lists(st.tuples(st.sampled_from(["O1", "O2", "O3"]), st.sampled_from(["1.00", "2.00"])), min_size=1,
                max_size=12))
def test_split_duplicates_accounts_for_every_row(rows):
    raw = _raw([_opp(opportunity_id=k, amount=a) for k, a in rows])
    typed, _ = cast_rows(raw, OPPS, "UTC")
    unique, conflicts, n_dup = split_duplicates(typed, OPPS)
    assert unique.height + conflicts.height + n_dup == raw.height
    assert unique["opportunity_id"].is_unique().all()


def test_collect_quarantine_one_row_per_line_with_primary_reason():
    raw = _raw([_opp(opportunity_id="", amount="x")])
    problems = pl.DataFrame({"_line": [2, 2, 2], "reason": ["bad_type", "missing_value", "null_key"],
                             "column": ["amount", "amount", "opportunity_id"]})
    q = collect_quarantine(raw, problems)
    assert q.height == 1
    assert q["reason"][0] == "null_key"
    assert q["details"][0] == "opportunity_id: null_key; amount: bad_type"
    assert '"amount":"x"' in q["raw"][0]
