import datetime as dt
import json
from decimal import Decimal

import pytest

from schemas.contracts import DATASETS
from schemas.suites import suite_rules
from warehouse.db import open_warehouse
from warehouse.landing import RejectedFile
from warehouse.load import LedgerEntry, ingested_hashes, load_file, log_entry, pending_moves

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
HEADER = "opportunity_id,customer_id,created_at,stage,amount,currency,owner_employee_id,source\n"


def _file(tmp_path, name, *specs):
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{oid},C,2026-01-01T00:00:00Z,open,{amount},EUR,E1,inbound\n"
                                     for oid, amount in specs))
    return path


def _load(con, path, sha):
    rules = suite_rules(DATASETS["opportunities"], departments=["sales"], currency="EUR", now=T0)
    entry = LedgerEntry(path.name, "opportunities", sha, 0, 0, 0, 0, "loaded", None, T0)
    return load_file(con, entry, path, rules, "UTC")


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


def test_rows_quarantined_only_for_a_key_conflict_keep_their_delivered_text(tmp_path):
    # Rows that pass every row check carry no copy of their text; a key conflict sends them to quarantine,
    # so their delivered values are read again from the file, on the right lines (a quoted line break counts).
    path = tmp_path / "a.csv"
    path.write_text(HEADER + 'O1,"C\nD",2026-01-01T00:00:00Z,open, 10.00 ,EUR,E1,inbound\n'
                             "O2,C,2026-01-01T00:00:00Z,open,1,EUR,E1,inbound\n"
                             "O1,C,2026-01-01T00:00:00Z,open,11.00,EUR,E1,inbound\n"
                             "O3,C,2026-01-01T00:00:00Z,open,-1,EUR,E1,inbound\n")
    with open_warehouse(tmp_path / "w.duckdb") as con:
        e = _load(con, path, "s1")
        assert (e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_duplicate) == (4, 1, 3, 0)
        rows = con.execute("SELECT line, reason, raw FROM quarantine ORDER BY line").fetchall()
        assert [(line, reason) for line, reason, _ in rows] == [
            (2, "duplicate_key_conflict"), (5, "duplicate_key_conflict"), (6, "out_of_range")]
        assert json.loads(rows[0][2])["customer_id"] == "C\nD" and json.loads(rows[0][2])["amount"] == " 10.00 "
        assert json.loads(rows[1][2])["amount"] == "11.00"
        assert json.loads(rows[2][2])["amount"] == "-1"
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_the_table_never_holds_a_key_twice(tmp_path):
    # Uniqueness of keys is guaranteed by the load (no index): within a file repeated keys are resolved,
    # across files the newest delivery replaces the current version.
    files = [("a.csv", [("O1", "1.00"), ("O2", "2.00"), ("O2", "2.00"), ("O3", "3.00")]),
             ("b.csv", [("O1", "1.00"), ("O2", "2.50"), ("O4", "4.00"), ("O4", "4.00")]),
             ("c.csv", [("O2", "2.50"), ("O3", "3.50"), ("O5", "5.00"), ("O5", "5.50")])]
    with open_warehouse(tmp_path / "w.duckdb") as con:
        for i, (name, specs) in enumerate(files):
            _load(con, _file(tmp_path, name, *specs), f"s{i}")
        assert con.execute("SELECT count(*), count(DISTINCT opportunity_id) FROM opportunities").fetchall() == [(4, 4)]
        assert con.execute("SELECT opportunity_id, CAST(amount AS VARCHAR) FROM opportunities ORDER BY 1").fetchall() == [
            ("O1", "1.00"), ("O2", "2.50"), ("O3", "3.50"), ("O4", "4.00")]
        assert con.execute("SELECT sum(rows_read) = sum(rows_loaded + rows_quarantined + rows_duplicate) "
                           "FROM ingestion_log").fetchall() == [(True,)]


def test_line_numbers_follow_the_file_however_the_reader_splits_it(tmp_path):
    # Large enough for DuckDB to read in parallel, loaded after another file in the same connection: the
    # temporary table's row order then need not follow the file (seen with 1.4 M rows), the numbering must.
    n = 400_000
    big = tmp_path / "big.csv"
    with big.open("w") as fh:
        fh.write(HEADER)
        fh.writelines(f"O{i},C,2026-01-01T00:00:00Z,open,{i % 1000}.50,EUR,E1,inbound\n" for i in range(n))
    with open_warehouse(tmp_path / "w.duckdb") as con:
        _load(con, _file(tmp_path, "a.csv", ("X1", "1.00")), "s0")
        e = _load(con, big, "s1")
        assert (e.rows_read, e.rows_loaded) == (n, n)
        assert con.execute("SELECT count(*) FROM opportunities WHERE _file = 'big.csv' AND "
                           "_line <> CAST(substr(opportunity_id, 2) AS BIGINT) + 2").fetchall() == [(0,)]
