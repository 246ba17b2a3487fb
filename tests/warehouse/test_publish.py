"""The analysts' snapshot: storage version, Parquet copies, period_status, and readers during publishes."""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
import sys
import textwrap
from decimal import Decimal

import duckdb
import pytest

from warehouse import publish
from warehouse.db import open_warehouse
from warehouse.periods import PERIOD_STATUS_COLUMNS
from warehouse.publish import PARQUET_LINK, PUBLISHED_TABLES, publish_snapshot

DUCKDB_1_4_STORAGE = 67  # the storage version number DuckDB 1.4 writes; 1.3 reads only up to 66


def _add_scores(con, n: int, start: int = 0) -> None:
    departments = ["sales", "marketing", "logistics"]
    con.executemany(
        "INSERT INTO employee_scores (period, employee_id, department, composite, payout_multiplier, incomplete, "
        "plan_version, run_id) VALUES ('2026-Q3', ?, ?, ?, 1, false, '2026.1', 'r')",
        [(f"E{start + i:05d}", departments[(start + i) % 3], Decimal("0.5")) for i in range(n)],
    )


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path) as con:
        _add_scores(con, 10)
        con.execute("INSERT INTO period_status (period) VALUES ('2026-Q3')")
    return path


def test_snapshot_opens_in_duckdb_1_4(warehouse, tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
    with target.open("rb") as fh:
        magic, version = struct.unpack("<8x4sQ", fh.read(20))
    assert magic == b"DUCK" and version <= DUCKDB_1_4_STORAGE
    with duckdb.connect(str(target), read_only=True) as con:
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE path = ?", [str(target)]).fetchall()[0][0]
    assert tags["storage_version"] == "v1.4.0+"


def test_parquet_copies_match_the_snapshot_and_swap_atomically(warehouse, tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    link = target.parent / PARQUET_LINK
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
        first = link.resolve()
        _add_scores(con, 5, start=10)
        publish_snapshot(con, target)
    assert link.is_symlink() and link.resolve() != first and first.is_dir()  # the old set stays for its readers
    expected = {*PUBLISHED_TABLES, "snapshot_info", "data_dictionary"}
    assert {p.stem for p in link.glob("*.parquet")} == expected
    with duckdb.connect(str(target), read_only=True) as con:
        for table in expected:
            in_db = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            in_parquet = con.execute("SELECT count(*) FROM read_parquet(?)", [str(link / f"{table}.parquet")]).fetchall()[0][0]
            assert in_db == in_parquet, table
            for a, b in ((f'"{table}"', "read_parquet(?)"), ("read_parquet(?)", f'"{table}"')):  # same rows, both ways
                assert con.execute(f"SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})",
                                   [str(link / f"{table}.parquet")]).fetchall() == [(0,)], table
        assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(link / "employee_scores.parquet")]).fetchall() == [(15,)]
        assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(first / "employee_scores.parquet")]).fetchall() == [(10,)]


def test_period_status_is_published_with_its_contract_columns(warehouse, tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
    with duckdb.connect(str(target), read_only=True) as con:
        cols = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'period_status' ORDER BY ordinal_position").fetchall()
        described = con.execute("SELECT count(*) FROM data_dictionary WHERE table_name = 'period_status' "
                                "AND column_name IS NOT NULL AND description <> ''").fetchall()[0][0]
        rows = con.execute("SELECT period, state, pending_restatement FROM period_status").fetchall()
    assert cols == [("period", "VARCHAR"), ("state", "VARCHAR"), ("closed_run_id", "VARCHAR"),
                    ("closed_at", "TIMESTAMP WITH TIME ZONE"), ("closed_by", "VARCHAR"),
                    ("pending_restatement", "BOOLEAN"), ("pending_since", "TIMESTAMP WITH TIME ZONE"),
                    ("partial", "BOOLEAN"), ("partial_reason", "VARCHAR"), ("first_data_day", "DATE"),
                    ("last_data_day", "DATE")]
    assert [c for c, _ in cols] == PERIOD_STATUS_COLUMNS
    assert described == len(cols)
    assert rows == [("2026-Q3", "open", False)]


_READER = textwrap.dedent("""
    import json, os, sys, time
    import duckdb
    snapshot, stop, seen_file = sys.argv[1:4]
    reads, failures, inconsistent, generations = 0, [], [], []
    while not os.path.exists(stop):
        try:
            con = duckdb.connect(snapshot, read_only=True)
            try:
                gens = con.execute("SELECT DISTINCT generation FROM snapshot_info").fetchall()
                listed = con.execute("SELECT rows FROM snapshot_info WHERE table_name = 'employee_scores'").fetchall()[0][0]
                counted = con.execute("SELECT count(*) FROM employee_scores").fetchall()[0][0]
                by_dept = con.execute("SELECT sum(employees) FROM scores_by_department").fetchall()[0][0]
                dictionary = con.execute("SELECT count(*) FROM data_dictionary WHERE table_name = 'employee_scores'").fetchall()[0][0]
            finally:
                con.close()
            reads += 1
            if len(gens) != 1 or not (listed == counted == by_dept) or dictionary == 0:
                inconsistent.append([gens, listed, counted, by_dept, dictionary])
            elif not generations or generations[-1] != gens[0][0]:
                generations.append(gens[0][0])
                with open(seen_file, "a") as fh:
                    fh.write(f"{gens[0][0]}\\n")
        except Exception as e:
            failures.append(repr(e))
    print(json.dumps({"reads": reads, "failures": failures[:5], "n_failures": len(failures),
                      "inconsistent": inconsistent[:5], "generations": generations}))
""")


def _wait_for(predicate, what: str, limit: float = 120.0) -> None:
    """Poll until ``predicate()``; a hang (not a slow machine) fails after ``limit`` seconds."""
    import time

    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_a_reader_process_is_never_refused_and_always_consistent_through_20_publishes(warehouse, tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    stop, seen = tmp_path / "stop", tmp_path / "seen"
    seen.touch()
    generations = []
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
        generations.append(con.execute(f"SELECT max(generation) FROM '{target.parent / PARQUET_LINK}/snapshot_info.parquet'").fetchall()[0][0])
        reader = subprocess.Popen([sys.executable, "-c", _READER, str(target), str(stop), str(seen)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(lambda: seen.read_text().strip() != "", "the reader's first read")
            for i in range(20):
                _add_scores(con, 3, start=100 + 3 * i)  # every publish changes the counts
                publish_snapshot(con, target)
                gen = con.execute(f"SELECT max(generation) FROM '{target.parent / PARQUET_LINK}/snapshot_info.parquet'").fetchall()[0][0]
                generations.append(gen)
                if i % 5 == 4:  # now and then, make sure the reader has caught up with this publish
                    _wait_for(lambda gen=gen: str(gen) in seen.read_text().split(), f"the reader to see publish {i + 1}")
        finally:
            stop.touch()
            out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["n_failures"] == 0, result["failures"]
    assert result["inconsistent"] == []
    assert result["reads"] >= 20
    assert set(result["generations"]) <= set(generations)
    assert len(result["generations"]) >= 5  # it did read through the publishes
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM employee_scores").fetchall() == [(70,)]


def test_a_column_added_outside_the_declaration_is_not_published(warehouse, tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(warehouse) as con:
        con.execute("ALTER TABLE runs ADD COLUMN bonus_amount DECIMAL(18, 2)")  # not in schemas/marts.py
        publish_snapshot(con, target)
    with duckdb.connect(str(target), read_only=True) as con:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'runs'").fetchall()]
    assert "bonus_amount" not in cols and "run_id" in cols


def test_a_snapshot_unlike_its_declaration_stops_the_publish_and_leaves_the_last_snapshot(warehouse, tmp_path,
                                                                                          monkeypatch):
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
        before = (target.read_bytes(), (target.parent / PARQUET_LINK).resolve())
        # a view whose SQL shows a column its declaration does not list
        monkeypatch.setitem(publish.VIEWS, "leaky", publish.View(
            "SELECT period, employee_id, composite AS bonus_amount FROM employee_scores", "a view",
            {"period": "period", "employee_id": "employee"}))
        with pytest.raises(RuntimeError, match="refusing to publish leaky"):
            publish_snapshot(con, target)
        assert con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'snap'").fetchall() == [(0,)]
    assert (target.read_bytes(), (target.parent / PARQUET_LINK).resolve()) == before
    assert [p.name for p in target.parent.glob(f"{PARQUET_LINK}.*")] == [before[1].name]  # the new folder is gone

#: Names, compensation and raw rows: what the snapshot must never show (DESIGN "What is published").
PRIVATE = {"full_name", "bonus_target", "bonus_amount", "old_bonus_amount", "new_bonus_amount", "difference", "raw"}


def test_every_column_of_the_snapshot_is_described(warehouse, tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
    with duckdb.connect(str(target), read_only=True) as con:
        undescribed = con.execute("SELECT table_name, column_name FROM data_dictionary "
                                  "WHERE coalesce(trim(description), '') = ''").fetchall()
        described = con.execute("SELECT count(*) FROM data_dictionary WHERE column_name IS NOT NULL").fetchall()[0][0]
        columns = con.execute("SELECT count(*) FROM information_schema.columns").fetchall()[0][0]
    assert undescribed == []
    assert described == columns  # every column of every table and view has its row


def test_names_and_money_are_kept_out_by_the_declaration(warehouse, tmp_path, monkeypatch):
    from schemas.contracts import DATASETS
    from schemas.marts import MARTS

    declared_private = {(t, c.name) for t, m in MARTS.items() for c in m.columns if c.name in PRIVATE}
    declared_private |= {(t, c.name) for t, ds in DATASETS.items() for c in ds.columns if c.name in PRIVATE}
    assert {c for _, c in declared_private} == PRIVATE  # each is declared somewhere
    for table, column in declared_private:  # ... and declared unpublishable (or in an unpublished table)
        mart = MARTS.get(table)
        flag = mart.column(column).published and mart.published if mart else DATASETS[table].column(column).published
        assert not flag, f"{table}.{column}"
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
    with duckdb.connect(str(target), read_only=True) as con:
        shown = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert shown & PRIVATE == set()
    assert "bonus_lines" not in tables and "audit_log" not in tables and "employees" in tables

    # the flag is what decides: declared publishable, the column would be published
    import schemas.marts as declared
    from warehouse import publish as pub

    restatements = MARTS["restatements"]
    flipped = tuple(c if c.name != "difference" else dataclasses.replace(c, published=True)
                    for c in restatements.columns)
    monkeypatch.setitem(declared.MARTS, "restatements", dataclasses.replace(restatements, columns=flipped))
    monkeypatch.setattr(pub, "PUBLISHED_TABLES", pub._published_tables())
    with open_warehouse(warehouse) as con:
        publish_snapshot(con, target)
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'restatements' "
                           "AND column_name = 'difference'").fetchall() == [(1,)]
