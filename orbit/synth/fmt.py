"""Vectorised formatting of the generator's fixed-point numpy arrays into file text."""

from __future__ import annotations

import numpy as np
import polars as pl

DAY = 86_400
HOUR = 3_600
NULL = np.iinfo(np.int64).min  # "no value" in fixed-point int arrays
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


def id_expr(col: str, prefix: str, width: int) -> pl.Expr:
    """Non-negative ints -> 'P000123'; negative -> null."""
    return pl.when(pl.col(col) >= 0).then(
        pl.concat_str([pl.lit(prefix), pl.col(col).cast(pl.String).str.zfill(width)])
    )


def fixed_expr(col: str, scale: int) -> pl.Expr:
    """Non-negative fixed-point ints (value × 10**scale) -> '123.45'; null stays null."""
    unit = 10**scale
    c = pl.col(col)
    return pl.concat_str([(c // unit).cast(pl.String), pl.lit("."), (c % unit).cast(pl.String).str.zfill(scale)])


def opt(arr: np.ndarray) -> pl.Series:
    """An int64 array whose NULL entries become nulls."""
    return pl.DataFrame({"x": np.asarray(arr, np.int64)}).select(
        pl.when(pl.col("x") != NULL).then(pl.col("x"))).to_series()


def ts_expr(col: str, tz: str) -> pl.Expr:
    """Local wall-clock seconds since 1970-01-01 -> ISO 8601 with the zone's UTC offset.
    A wall time inside a DST gap is moved one hour back (never later); an ambiguous one
    takes the earlier instant."""
    local = pl.from_epoch(pl.col(col), time_unit="s")
    aware = local.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    back = (local - pl.duration(hours=1)).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return pl.coalesce(aware, back).dt.strftime(TS_FORMAT)


def date_expr(col: str) -> pl.Expr:
    """Days since 1970-01-01 -> 'YYYY-MM-DD'; null stays null."""
    return pl.from_epoch(pl.col(col), time_unit="d").dt.strftime("%Y-%m-%d")


def gather(values: list[str] | pl.Series, idx: np.ndarray) -> pl.Series:
    """values[idx] as a String series; idx < 0 gives null."""
    base = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    ext = pl.concat([base.cast(pl.String), pl.Series([None], dtype=pl.String)])
    idx = np.asarray(idx, dtype=np.int64)
    return ext.gather(np.where(idx < 0, len(values), idx))


def reformat(expr: pl.Expr, scale: int) -> pl.Expr:
    """A float expression -> fixed decimal text with ``scale`` decimals (non-negative)."""
    unit = 10**scale
    i = (expr * unit).round(0).cast(pl.Int64)
    return pl.concat_str([(i // unit).cast(pl.String), pl.lit("."), (i % unit).cast(pl.String).str.zfill(scale)])
