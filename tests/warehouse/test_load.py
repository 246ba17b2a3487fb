import datetime as dt
from decimal import Decimal

import pytest

from orbit.landing import RejectedFile
from schemas.contracts import DATASETS
from schemas.suites import build_suite
from warehouse.db import open_warehouse
from warehouse.load import LedgerEntry, ingested_hashes, load_file, log_entry, pending_moves

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
HEADER = "opportunity_id,customer_id,created_at,stage,amount,currency,owner_employee_id,source\n"


def _file(tmp_path, name, *specs):
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{oid},C,2026-01-01T00:00:00Z,open,{amount},EUR,E1,inbound\n"
                                     for oid, amount in specs))
    return path


def _load(con, path, sha):
    suite = build_suite(DATASETS["opportunities"], departments=["sales"], currency="EUR", now=T0)
    entry = LedgerEntry(path.name, "opportunities", sha, 0, 0, 0, 0, "loaded", None, T0)
    return load_file(con, entry, path, suite, "UTC")


def test_newest_delivery_wins_old_version_goes_to_history(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        first = _load(con, _file(tmp_path, "a.csv", ("O1", "10.00"), ("O2", "20.00")), "s1")
        assert (first.rows_read, first.rows_loaded, first.rows_duplicate) == (2, 2, 0)
        second = _load(con, _file(tmp_path, "b.csv", ("O1", "10.00"), ("O2", "25.00"), ("O3", "-1")), "s2")
        # O1 unchanged, O2 replaced, O3 quarantined
        assert (second.rows_read, second.rows_loaded, second.rows_duplicate, second.rows_quarantined) == (3, 1, 1, 1)
        assert con.execute("SELECT amount FROM opportunities WHERE opportunity_id = 'O2'").fetchall() == [
            (Decimal("25.00"),)]
        hist = con.execute("SELECT opportunity_id, amount, _superseded_by FROM opportunities_history").fetchall()
        assert hist == [("O2", Decimal("20.00"), "b.csv")]
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(2,)]
        assert con.execute("SELECT line, reason FROM quarantine").fetchall() == [(4, "out_of_range")]
        assert ingested_hashes(con) == {"s1": {"a.csv"}, "s2": {"b.csv"}}
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_file_is_all_or_nothing(tmp_path, monkeypatch):
    import warehouse.load

    def crash(*args, **kwargs):
        raise RuntimeError("crash while writing the ledger row")

    monkeypatch.setattr(warehouse.load, "log_entry", crash)
    with open_warehouse(tmp_path / "w.duckdb") as con:
        with pytest.raises(RuntimeError, match="crash"):
            _load(con, _file(tmp_path, "a.csv", ("O1", "1.00"), ("O2", "-5")), "s1")
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM ingestion_log").fetchall() == [(0,)]


def test_rejected_file_writes_nothing_and_its_ledger_row_names_where_it_goes(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("opportunity_id\nO1\n")
    with open_warehouse(tmp_path / "w.duckdb") as con:
        with pytest.raises(RejectedFile, match="missing required column"):
            _load(con, path, "s1")
        assert con.execute("SELECT count(*) FROM ingestion_log").fetchall() == [(0,)]
        log_entry(con, LedgerEntry("opportunities/a.csv", "opportunities", "s1", 0, 0, 0, 0, "rejected", "bad", T0,
                                   "quarantine/files/opportunities/a.csv"))
        assert pending_moves(con) == {("opportunities/a.csv", "s1"): ("quarantine/files/opportunities/a.csv", "bad")}
        assert ingested_hashes(con) == {}  # rejected content delivered again is looked at again
