"""Reading the warehouse into typed polars frames: the contract's columns, or only those asked for."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
from transforms.evaluation import EVALUATION_COLUMNS
from warehouse.db import open_warehouse
from warehouse.read import load_frames


@pytest.fixture()
def con(tmp_path):
    with open_warehouse(tmp_path / "warehouse.duckdb") as con:
        con.execute("INSERT INTO targets (period, department, metric, target, employee_id, _file, _loaded_at) "
                    "VALUES ('2026-Q3', 'sales', 'closing', 0.25, 'E1', 'targets.csv', now())")
        yield con


def test_every_contract_column_by_default(con):
    frames = load_frames(con)
    assert set(frames) == set(DATASETS)
    for name, frame in frames.items():
        assert frame.schema == polars_schema(name), name
    assert frames["targets"].to_dicts() == [{"period": "2026-Q3", "department": "sales", "metric": "closing",
                                             "target": Decimal("0.25"), "employee_id": "E1"}]


def test_only_the_columns_asked_for_typed_by_the_contract(con):
    frames = load_frames(con, {"targets": ["target", "period"]})
    assert frames["targets"].schema == pl.Schema({"target": pl.Decimal(38, 9), "period": pl.Utf8})
    assert frames["targets"].rows() == [(Decimal("0.25"), "2026-Q3")]
    assert frames["employees"].schema == polars_schema("employees")  # not named: the whole contract
    empty = load_frames(con, EVALUATION_COLUMNS)["activities"]  # an empty table keeps its typed columns
    assert empty.is_empty() and empty.columns == list(EVALUATION_COLUMNS["activities"])
    assert empty.schema == pl.Schema({c: polars_schema("activities")[c] for c in EVALUATION_COLUMNS["activities"]})


def test_a_column_outside_the_contract_is_refused(con):
    with pytest.raises(ValueError, match="targets has no column.*raw_value"):
        load_frames(con, {"targets": ["target", "raw_value"]})
