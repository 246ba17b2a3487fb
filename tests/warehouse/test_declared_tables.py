"""Every table written exactly as declared in schemas/marts.py, or not at all; homes created from and extended by the declaration."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import polars as pl
import pytest

from schemas import marts as declared
from schemas.marts import MARTS, ColumnMismatch, MartColumn
from tests.transforms.test_golden import AS_OF, Q3, golden_frames, plan
from transforms.evaluation import evaluate_period
from transforms.quality import SCHEMA as QUALITY_SCHEMA
from warehouse import db
from warehouse.db import DUCKDB_TYPES, SchemaDrift, insert_rows, open_warehouse
from warehouse.marts import write_period_marts

STARTED = dt.datetime(2026, 10, 15, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def result():
    return evaluate_period(plan(), Q3, golden_frames(), AS_OF)


def _write(con, result, quality=None):
    return write_period_marts(con, [result], run_id="r1", input_hashes=["h"], started_at=STARTED,
                              quality=pl.DataFrame(schema=QUALITY_SCHEMA) if quality is None else quality)


def _count(con, table: str) -> int:
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]


def test_a_period_is_written_to_every_mart_with_its_declared_columns(tmp_path, result):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        assert _write(con, result) == ["2026-Q3"]
        assert _count(con, "employee_scores") == result.scores.height == _count(con, "bonus_lines")
        assert _count(con, "evaluation_matrix") == result.matrix.height
        # every declared column of the matrix is filled where the frame had a value (nothing silently NULL)
        for column in ("weighted_score", "achievement", "effective_weight", "actual_exact"):
            stored = con.execute(f"SELECT count({column}) FROM evaluation_matrix").fetchall()[0][0]
            assert stored == result.matrix.get_column(column).drop_nulls().len() > 0, column
        assert con.execute("SELECT DISTINCT plan_version, run_id FROM employee_scores").fetchall() == [
            (result.plan.version, "r1")]
        names = con.execute("SELECT count(full_name) FROM bonus_lines").fetchall()[0][0]
        assert names == result.scores.height


def test_renaming_a_column_of_a_mart_frame_raises_naming_it_and_writes_nothing(tmp_path, result):
    renamed = dataclasses.replace(result, matrix=result.matrix.rename({"weighted_score": "weighted_scores"}))
    with open_warehouse(tmp_path / "w.duckdb") as con:
        with pytest.raises(ColumnMismatch, match="missing weighted_score; not declared weighted_scores") as err:
            _write(con, renamed)
        assert err.value.missing == ["weighted_score"] and err.value.extra == ["weighted_scores"]
        assert "evaluation_matrix" in str(err.value)
        assert [_count(con, t) for t in ("evaluation_matrix", "employee_scores", "runs", "period_status")] == [0] * 4


def test_a_scores_frame_feeds_two_marts_and_must_carry_both_declarations(tmp_path, result):
    renamed = dataclasses.replace(result, scores=result.scores.rename({"bonus_amount": "bonus"}))
    dropped = dataclasses.replace(result, scores=result.scores.drop("composite"))
    with open_warehouse(tmp_path / "w.duckdb") as con:
        with pytest.raises(ColumnMismatch, match="employee_scores and bonus_lines.*missing bonus_amount; "
                                                 "not declared bonus$"):
            _write(con, renamed)
        with pytest.raises(ColumnMismatch, match="missing composite$"):
            _write(con, dropped)
        assert _count(con, "bonus_lines") == 0


def test_insert_rows_refuses_undeclared_columns_and_empty_required_values(tmp_path):
    row = {"period": None, "check": "unknown_employee", "dataset": "activities", "rows": 1, "examples": "E9",
           "run_id": "r"}
    with open_warehouse(tmp_path / "w.duckdb") as con:
        with pytest.raises(ColumnMismatch, match="data_quality.*not declared note"):
            insert_rows(con, "data_quality", pl.DataFrame([{**row, "note": "x"}]))
        with pytest.raises(ColumnMismatch, match="missing examples"):
            insert_rows(con, "data_quality", pl.DataFrame([{k: v for k, v in row.items() if k != "examples"}]))
        with pytest.raises(ValueError, match="data_quality have empty check, dataset"):
            insert_rows(con, "data_quality", pl.DataFrame([{**row, "check": None, "dataset": None}],
                                                          schema_overrides={"check": pl.Utf8, "dataset": pl.Utf8}))
        insert_rows(con, "data_quality", pl.DataFrame([row], schema_overrides={"period": pl.Utf8}))
        assert con.execute('SELECT "check", rows, examples FROM data_quality').fetchall() == [
            ("unknown_employee", 1, "E9")]


def test_a_fresh_warehouse_has_exactly_the_declared_tables(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as con:
        rows = con.execute("SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                           "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, dtype, nullable in rows:
        found.setdefault(table, []).append((column, dtype, nullable == "YES"))
    reported = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
    for mart in MARTS.values():
        expected = [(c.name, reported.get(DUCKDB_TYPES[c.type], DUCKDB_TYPES[c.type]), c.nullable)
                    for c in mart.columns]
        if mart.in_warehouse:
            assert found[mart.name] == expected, mart.name
        else:
            assert mart.name not in found


def _with_column(monkeypatch, table: str, column: MartColumn) -> None:
    mart = MARTS[table]
    monkeypatch.setitem(declared.MARTS, table, dataclasses.replace(mart, columns=(*mart.columns, column)))


def test_a_newly_declared_column_is_added_to_an_existing_home(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        con.execute("INSERT INTO period_status (period) VALUES ('2026-Q3')")
    _with_column(monkeypatch, "period_status", MartColumn("archived", "boolean", "the period is archived",
                                                          nullable=False, default=False))
    with open_warehouse(path) as con:
        assert con.execute("SELECT period, state, archived FROM period_status").fetchall() == [("2026-Q3", "open", False)]
        assert db.sync_declared_tables(con) == []  # once added, nothing more to do
        con.execute("INSERT INTO period_status (period) VALUES ('2026-Q4')")
        assert con.execute("SELECT archived FROM period_status WHERE period = '2026-Q4'").fetchall() == [(False,)]


def test_a_column_whose_declared_type_changed_needs_a_migration(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path):
        pass
    mart = MARTS["runs"]
    retyped = tuple(dataclasses.replace(c, type="int") if c.name == "periods" else c for c in mart.columns)
    monkeypatch.setitem(declared.MARTS, "runs", dataclasses.replace(mart, columns=retyped))
    with pytest.raises(SchemaDrift, match="runs.periods is VARCHAR in the warehouse but declared BIGINT"):
        with open_warehouse(path):
            pass


def test_a_home_made_before_the_declaration_migrates_unchanged(tmp_path):
    """A warehouse at schema version 4, made by the hand-written DDL this declaration replaced."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT current_timestamp)")
    for sql in db.MIGRATIONS[0][2]:
        con.execute(sql)
    con.execute("""CREATE TABLE data_quality (period VARCHAR, "check" VARCHAR NOT NULL, dataset VARCHAR NOT NULL,
                   rows BIGINT NOT NULL, examples VARCHAR, run_id VARCHAR NOT NULL)""")
    con.execute("""INSERT INTO data_quality VALUES (NULL, 'unknown_employee', 'activities', 2, 'E1, E2', 'r0')""")
    con.executemany("INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                    [(v, d) for v, d, _ in db.MIGRATIONS])
    con.close()
    with open_warehouse(path) as con:  # creates the declared tables it lacks, keeps the rows it has
        assert con.execute('SELECT "check", rows FROM data_quality').fetchall() == [("unknown_employee", 2)]
        assert _count(con, "employee_scores") == 0 and _count(con, "period_status") == 0
