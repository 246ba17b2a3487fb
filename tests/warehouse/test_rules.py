import datetime as dt

import polars as pl

from schemas.contracts import DATASETS
from schemas.suites import build_suite, suite_rules
from warehouse.db import query_frame
from warehouse.ingest_sql import typed_sql
from warehouse.rules import validate_rows

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)


def _typed(name, rows, tz="UTC"):
    import duckdb

    raw = pl.DataFrame(rows, schema={k: pl.Utf8 for k in rows[0]}).with_row_index("_line", offset=2)
    con = duckdb.connect()
    con.register("_raw", raw.with_columns(pl.col("_line").cast(pl.Int64)))
    con.execute(f"CREATE TABLE t AS {typed_sql(DATASETS[name], list(rows[0]), tz, '(SELECT _line - 2 AS _n, * EXCLUDE (_line) FROM _raw)')}")
    columns = ", ".join(f'"{c}"' for c in DATASETS[name].column_names)
    return query_frame(con, f"SELECT _n + 2 AS _line, {columns} FROM t ORDER BY _line")


def test_suite_is_generated_from_the_contract():
    suite = build_suite(DATASETS["opportunities"], departments=["sales"], currency="EUR", now=NOW)
    kinds = {(e.expectation_type, e.column) for e in suite.expectations}
    assert ("expect_column_values_to_be_in_set", "stage") in kinds
    assert ("expect_column_values_to_be_between", "amount") in kinds
    assert ("expect_column_values_to_not_be_null", "opportunity_id") in kinds
    assert all("reason" in e.meta for e in suite.expectations)


def test_validate_rows_returns_failing_lines_with_reason_codes():
    base = {"opportunity_id": "O1", "customer_id": "C", "created_at": "2026-01-01", "stage": "won", "amount": "5",
            "currency": "EUR", "owner_employee_id": "E1", "source": "marketing", "closed_at": "2026-02-01"}
    rows = [base, {**base, "opportunity_id": ""}, {**base, "amount": "-1"}, {**base, "stage": "maybe"},
            {**base, "currency": "USD"}, {**base, "closed_at": ""}, {**base, "created_at": "2026-11-25T12:00:00Z"},
            {**base, "source": "cold_call"}]
    suite = build_suite(DATASETS["opportunities"], departments=["sales"], currency="EUR", now=NOW)
    failures = validate_rows(_typed("opportunities", rows), suite)
    got = {(r["_line"], r["reason"]) for r in failures.to_dicts()}
    assert got == {(3, "null_key"), (4, "out_of_range"), (5, "invalid_value"), (6, "currency_mismatch"),
                   (7, "closed_at_missing"), (8, "future_timestamp"), (9, "invalid_value")}


def test_unknown_department_and_fte_range():
    base = {"employee_id": "E1", "full_name": "A", "department": "sales", "role": "r", "fte": "1",
            "bonus_target": "100", "currency": "EUR", "effective_from": "2026-01-01"}
    rows = [base, {**base, "department": "sales_ops"}, {**base, "fte": "0"}, {**base, "fte": "1.2"}]
    suite = build_suite(DATASETS["employees"], departments=["sales"], currency="EUR", now=NOW)
    got = {(r["_line"], r["reason"]) for r in validate_rows(_typed("employees", rows), suite).to_dicts()}
    assert got == {(3, "unknown_department"), (4, "out_of_range"), (5, "out_of_range")}


def test_sql_rules_match_great_expectations_on_every_dataset():
    """The compiled SQL predicates and GE itself reject exactly the same rows with the same reasons."""
    import random

    from schemas.derive import polars_schema

    rng = random.Random(4)
    samples = {
        "employees": {"employee_id": ["E1", ""], "full_name": ["A", ""], "department": ["sales", "sales_ops"],
                      "role": ["r", ""], "fte": ["1", "0", "0.5", "1.2"], "bonus_target": ["10.00", "-1"],
                      "currency": ["EUR", "USD", "eur"], "effective_from": ["2026-01-01", ""],
                      "manager_id": ["", "E2"], "effective_to": ["", "2026-05-01"]},
        "opportunities": {"opportunity_id": ["O1", ""], "customer_id": ["C"], "created_at": ["2026-01-01", "2027-01-01"],
                          "stage": ["won", "lost", "open", "maybe"], "amount": ["5", "-1", "0"], "currency": ["EUR", "USD"],
                          "owner_employee_id": ["E1"], "source": ["marketing", "cold"],
                          "closed_at": ["", "2026-02-01", "2026-11-24T23:00:00Z"]},
        "feedback": {"survey_id": ["S1", ""], "customer_id": ["C"], "responded_at": ["2026-01-01"],
                     "score": ["0", "10", "11", "-1", "7.5"], "employee_id": ["", "E1"], "department": ["", "hr", "x"]},
        "targets": {"period": ["2026-Q3", "2026-07", "2026-13", "26-Q1"], "department": ["sales", "nope"],
                    "metric": ["csat", ""], "target": ["1", "-2"], "employee_id": ["", "E1"]},
    }
    for name, choices in samples.items():
        rows = [{c: rng.choice(v) for c, v in choices.items()} for _ in range(300)]
        typed = _typed(name, rows)
        plan = dict(departments=["sales", "hr"], currency="EUR", now=NOW)
        rules = suite_rules(DATASETS[name], **plan)  # what the ingest compiles to SQL, without importing GE
        suite = build_suite(DATASETS[name], **plan)
        fast = validate_rows(typed, rules, engine="duckdb")
        slow = validate_rows(typed, suite, engine="great_expectations")
        assert fast.rows() == slow.rows(), name
        assert validate_rows(typed, suite, engine="duckdb").rows() == fast.rows(), name
        assert fast.height > 0
        assert list(polars_schema(name)) == [c for c in typed.columns if c not in ("_line", "extra")]


def test_ingest_rules_compile_without_importing_great_expectations():
    """The ingest compiles the rules to SQL without GE (importing it costs seconds per run)."""
    import subprocess
    import sys

    code = ("import sys, datetime as dt; from schemas.contracts import DATASETS; "
            "from schemas.suites import suite_rules; from warehouse.rules import failing_sql; import flows.ingest; "
            "r = suite_rules(DATASETS['activities'], departments=['sales'], currency='EUR', "
            "now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)); assert 'IS NULL' in failing_sql(r); "
            "print(sorted(m for m in sys.modules if m.startswith('great_expectations')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
