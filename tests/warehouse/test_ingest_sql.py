import datetime as dt
import json
from decimal import Decimal

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.contracts import DATASETS
from warehouse.db import query_frame
from warehouse.ingest_sql import (
    bad_type_sql,
    check_columns,
    duplicates_sql,
    quarantine_sql,
    repeated_keys_sql,
    typed_sql,
)

OPPS = DATASETS["opportunities"]
UTC = dt.timezone.utc


def _raw(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={k: pl.Utf8 for k in rows[0]})
    return frame.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))


def _con(raw: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_raw", raw)
    return con


def _typed(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, ds=OPPS, tz="UTC") -> None:
    """The view _typed: ``raw``'s rows through the SQL the ingest runs, numbered as landing numbers them."""
    source = "(SELECT _line - 2 AS _n, * EXCLUDE (_line) FROM _raw)"
    con.execute(f"CREATE TABLE _typed_rows AS {typed_sql(ds, [c for c in raw.columns if c != '_line'], tz, source)}")
    con.execute("CREATE VIEW _typed AS SELECT _n + 2 AS _line, * FROM _typed_rows")


def cast_rows(raw: pl.DataFrame, ds=OPPS, tz="UTC") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed rows, bad_type problems) through the SQL the ingest runs."""
    con = _con(raw)
    _typed(con, raw, ds, tz)
    typed = query_frame(con, f"SELECT _line, {', '.join(ds.column_names)}, extra FROM _typed ORDER BY _line")
    problems = query_frame(con, f'SELECT * FROM ({bad_type_sql("_typed")}) ORDER BY _line, "column"')
    return typed, problems


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
    typed, problems = cast_rows(_raw([_opp(), _opp(opportunity_id="O2", created_at="2026-09-30T23:30:00"),
                                      _opp(opportunity_id="O3", created_at="2026-09-30 23:30+0130"),
                                      _opp(opportunity_id="O4", created_at="2026-09-30")]), OPPS, "America/Bogota")
    assert problems.height == 0
    assert typed["amount"].to_list() == [Decimal("100.50")] * 4
    assert typed["created_at"][0] == dt.datetime(2026, 1, 1, 15, tzinfo=UTC)
    # a timestamp without an offset is read in the plan's timezone
    assert typed["created_at"][1] == dt.datetime(2026, 10, 1, 4, 30, tzinfo=UTC)
    assert typed["created_at"][2] == dt.datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert typed["created_at"][3] == dt.datetime(2026, 9, 30, 5, 0, tzinfo=UTC)
    assert typed["closed_at"][0] == dt.datetime(2026, 2, 1, tzinfo=UTC)


def test_local_time_in_a_dst_gap_is_bad_type():
    raw = _raw([_opp(created_at="2026-03-08T02:30:00"), _opp(opportunity_id="O2", created_at="2026-03-08T03:30:00")])
    typed, problems = cast_rows(raw, OPPS, "America/New_York")
    assert problems.select("_line", "column").rows() == [(2, "created_at")]
    assert typed["created_at"][1] == dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_cast_rows_flags_unparsable_values_never_nulls_them_silently():
    raw = _raw([_opp(amount="1.234,56"), _opp(opportunity_id="O2", created_at="31/02/2026"),
                _opp(opportunity_id="O3", amount="12.345"), _opp(opportunity_id="O4", amount="1e3"),
                _opp(opportunity_id="O5", created_at="infinity"), _opp(opportunity_id="O6", created_at="2026-02-31")])
    typed, problems = cast_rows(raw, OPPS, "UTC")
    assert problems.select("_line", "column").rows() == [(2, "amount"), (3, "created_at"), (4, "amount"),
                                                        (5, "amount"), (6, "created_at"), (7, "created_at")]
    assert set(problems["reason"]) == {"bad_type"}


def test_cast_rows_keeps_extra_columns_as_json():
    typed, _ = cast_rows(_raw([_opp(colour="red")]), OPPS, "UTC")
    assert typed["extra"][0] == '{"colour":"red"}'


def test_blank_optional_values_are_null_not_errors():
    typed, problems = cast_rows(_raw([_opp(stage="open", closed_at="  ")]), OPPS, "UTC")
    assert problems.height == 0 and typed["closed_at"][0] is None


def split_duplicates(raw: pl.DataFrame) -> tuple[list[str], list[int], int]:
    """(kept keys, conflicting lines, exact duplicates) through the SQL the ingest runs."""
    con = _con(raw)
    _typed(con, raw)
    con.execute(f"CREATE TABLE k AS {repeated_keys_sql(OPPS, '_typed')}")
    con.execute(f"CREATE TABLE r AS {duplicates_sql(OPPS, 'k', '_typed')}")
    kept = [k for (k,) in con.execute(
        "SELECT opportunity_id FROM _typed ANTI JOIN r USING (_line) ORDER BY _line").fetchall()]
    conflicts = [n for (n,) in con.execute(
        "SELECT _line FROM r WHERE reason = 'duplicate_key_conflict' ORDER BY 1").fetchall()]
    duplicates = con.execute("SELECT count(*) FROM r WHERE reason = 'duplicate'").fetchall()[0][0]
    return kept, conflicts, duplicates


def test_split_duplicates_exact_copies_count_once_conflicts_all_quarantined():
    raw = _raw([_opp(), _opp(), _opp(opportunity_id="O2"), _opp(opportunity_id="O2", amount="1.00"),
                _opp(opportunity_id="O2"), _opp(opportunity_id="O3")])
    kept, conflicts, n_dup = split_duplicates(raw)
    assert kept == ["O1", "O3"]
    assert conflicts == [4, 5, 6]
    assert n_dup == 1
    assert len(kept) + len(conflicts) + n_dup == raw.height


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["O1", "O2", "O3"]), st.sampled_from(["1.00", "2.00"])), min_size=1,
                max_size=12))
def test_split_duplicates_accounts_for_every_row(rows):
    raw = _raw([_opp(opportunity_id=k, amount=a) for k, a in rows])
    kept, conflicts, n_dup = split_duplicates(raw)
    assert len(kept) + len(conflicts) + n_dup == raw.height
    assert len(set(kept)) == len(kept)


def test_quarantine_one_row_per_line_with_primary_reason():
    raw = _raw([_opp(opportunity_id="", amount=" x"), _opp(opportunity_id="O2")])
    con = _con(raw)
    _typed(con, raw)
    con.register("problems", pl.DataFrame({"_line": [2, 2, 2, 2], "reason": ["bad_type", "missing_value", "null_key",
                                                                             "invalid_value"],
                                           "column": ["amount", "amount", "opportunity_id", "stage"]}))
    q = query_frame(con, quarantine_sql("problems", "(SELECT _line, _raw AS raw FROM _typed)"))
    assert q.height == 1
    assert q["reason"][0] == "null_key"
    assert q["details"][0] == "opportunity_id: null_key; amount: bad_type; stage: invalid_value"
    assert '"amount":" x"' in q["raw"][0] and '"opportunity_id":""' in q["raw"][0]  # the text as delivered


def test_delivered_text_is_kept_only_for_rows_that_need_it():
    raw = _raw([_opp(amount=" 1.5 "), _opp(opportunity_id="O2", amount="x"), _opp(opportunity_id="O3", stage="maybe")])
    con = _con(raw)
    source = "(SELECT _line - 2 AS _n, * EXCLUDE (_line) FROM _raw)"
    con.execute("CREATE TABLE t AS " + typed_sql(OPPS, list(_opp()), "UTC", source, suspect="stage = 'maybe'"))
    raws = [r for (r,) in con.execute("SELECT _raw FROM t ORDER BY _n").fetchall()]
    assert raws[0] is None  # a good row: no copy of its text
    assert json.loads(raws[1]) == _opp(opportunity_id="O2", amount="x")  # a value did not parse
    assert json.loads(raws[2]) == _opp(opportunity_id="O3", stage="maybe")  # the suspect predicate holds
