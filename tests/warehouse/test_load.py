import datetime as dt
from decimal import Decimal

import polars as pl

from schemas.derive import polars_schema
from warehouse.db import open_warehouse
from warehouse.load import LedgerEntry, apply_file, ingested_hashes

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _rows(*specs):
    schema = polars_schema("opportunities")
    rows = [{"opportunity_id": oid, "customer_id": "C", "created_at": T0, "stage": "open", "amount": Decimal(amount),
             "currency": "EUR", "owner_employee_id": "E1", "source": "inbound", "closed_at": None} for oid, amount in specs]
    return pl.DataFrame(rows, schema=schema).with_columns(
        _line=pl.int_range(2, len(rows) + 2, dtype=pl.Int64), extra=pl.lit(None, pl.Utf8))


def _entry(name, sha, n):
    return LedgerEntry(name, "opportunities", sha, n, n, 0, 0, "loaded", None, T0)


def test_newest_delivery_wins_old_version_goes_to_history(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        first = apply_file(con, _entry("a.csv", "s1", 2), _rows(("O1", "10.00"), ("O2", "20.00")), None)
        assert (first.rows_loaded, first.rows_duplicate) == (2, 0)
        second = apply_file(con, _entry("b.csv", "s2", 2), _rows(("O1", "10.00"), ("O2", "25.00")), None)
        assert (second.rows_loaded, second.rows_duplicate) == (1, 1)  # O1 unchanged, O2 replaced
        assert con.execute("SELECT amount FROM opportunities WHERE opportunity_id = 'O2'").fetchall() == [
            (Decimal("25.00"),)]
        hist = con.execute("SELECT opportunity_id, amount, _superseded_by FROM opportunities_history").fetchall()
        assert hist == [("O2", Decimal("20.00"), "b.csv")]
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(2,)]
        assert ingested_hashes(con) == {"s1": {"a.csv"}, "s2": {"b.csv"}}


def test_file_is_all_or_nothing(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        bad = _rows(("O1", "1.00")).with_columns(customer_id=pl.lit(None, pl.Utf8))  # violates NOT NULL
        try:
            apply_file(con, _entry("a.csv", "s1", 1), bad, None)
        except Exception:
            pass
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM ingestion_log").fetchall() == [(0,)]
