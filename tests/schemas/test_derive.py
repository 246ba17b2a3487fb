import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import LINEAGE, polars_schema


def test_polars_schema_derives_from_the_declaration():
    for name, ds in DATASETS.items():
        assert list(polars_schema(ds)) == ds.column_names
        assert list(polars_schema(name, lineage=True)) == ds.column_names + list(LINEAGE)
    assert polars_schema("opportunities")["amount"] == pl.Decimal(18, 2)
    assert polars_schema("activities")["occurred_at"] == pl.Datetime("us", "UTC")
    assert polars_schema("activities", lineage=True)["_row_hash"] == pl.UInt128
