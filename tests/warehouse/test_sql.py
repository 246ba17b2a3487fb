import duckdb
import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
from warehouse.sql import ddl, ident, literal


def test_ddl_and_polars_schema_derive_from_one_declaration():
    con = duckdb.connect()
    for name, ds in DATASETS.items():
        con.execute(ddl(ds))
        con.execute(ddl(ds, history=True))
        cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
        assert cols[: len(ds.columns)] == ds.column_names
        assert list(polars_schema(ds)) == ds.column_names
    assert polars_schema("opportunities")["amount"] == pl.Decimal(18, 2)
    assert polars_schema("activities")["occurred_at"] == pl.Datetime("us", "UTC")


def test_required_keys_are_not_null_in_ddl():
    con = duckdb.connect()
    con.execute(ddl("targets"))
    nullable = dict(con.execute("SELECT column_name, is_nullable FROM information_schema.columns "
                                "WHERE table_name = 'targets'").fetchall())
    assert nullable["period"] == "NO" and nullable["employee_id"] == "YES"


def test_ident_and_literal_quote_what_they_hold():
    con = duckdb.connect()
    name, text = 'we"ird col', "it's"
    con.execute(f"CREATE TABLE {ident('t x')} ({ident(name)} VARCHAR)")
    con.execute(f"INSERT INTO {ident('t x')} VALUES ({literal(text)})")
    assert con.execute(f"SELECT {ident(name)} FROM {ident('t x')}").fetchall() == [(text,)]
    assert [r[0] for r in con.execute(f"DESCRIBE {ident('t x')}").fetchall()] == [name]
