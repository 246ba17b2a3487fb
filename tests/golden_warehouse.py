"""The golden organisation (tests/transforms/test_golden.py) stored in a real warehouse: landing rows inserted
as loaded, the period evaluated with the real transforms and marts written by the real warehouse code.
No Prefect: the statement and explain tests read it as the CLI would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from tests.transforms.test_golden import AS_OF, Q3, golden_frames, plan
from transforms.evaluation import evaluate_period
from warehouse.db import open_warehouse
from warehouse.marts import write_period_marts
from warehouse.periods import close_period

LOADED_AT = dt.datetime(2026, 10, 15, tzinfo=dt.timezone.utc)
GOLDEN_RUN = "golden0000000000000000000000000000000000000000000000000000000000"


def build_golden_warehouse(path: Path, *, close: bool = True) -> Path:
    p = plan()
    frames = golden_frames()
    with open_warehouse(path) as con:
        for name, frame in frames.items():
            con.register("_rows", frame.with_columns(pl.lit(LOADED_AT).alias("_loaded_at")))
            cols = ", ".join(frame.columns + ["_loaded_at"])
            con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _rows")
            con.unregister("_rows")
        result = evaluate_period(p, Q3, frames, AS_OF)
        write_period_marts(con, [result], run_id=GOLDEN_RUN, input_hashes=["golden"],
                           quality=pl.DataFrame(schema={"period": pl.Utf8, "check": pl.Utf8, "dataset": pl.Utf8,
                                                        "rows": pl.Int64, "examples": pl.Utf8}),
                           started_at=LOADED_AT)
        if close:
            close_period(con, Q3.label, user="hr", at=LOADED_AT, allow_partial=True)  # data starts 07-05
    return path
