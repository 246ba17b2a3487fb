"""Realistic defects mixed into generated datasets (``orbit generate --bad-rows F``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from orbit.synth.fmt import reformat

_BAD_KINDS: dict[str, tuple[str, ...]] = {
    "employees": ("missing_key", "duplicate", "conflict", "negative", "unknown_department", "bad_date",
                  "decimal_comma", "currency", "out_of_range"),
    "opportunities": ("missing_key", "duplicate", "conflict", "negative", "bad_date", "decimal_comma",
                      "currency", "invalid_value"),
    "activities": ("missing_key", "duplicate", "conflict", "negative", "unknown_department", "bad_date",
                   "decimal_comma"),
    "measurements": ("missing_key", "duplicate", "conflict", "unknown_department", "bad_date", "decimal_comma"),
    "feedback": ("missing_key", "duplicate", "conflict", "out_of_range", "unknown_department", "bad_date",
                 "decimal_comma"),
    "targets": ("missing_key", "duplicate", "conflict", "unknown_department", "bad_date", "decimal_comma"),
}
#: per dataset: id column and its prefix/width (fresh ids for new bad rows), main number column, time column
_BAD_COLS = {
    "employees": ("employee_id", "E", 5, "bonus_target", "effective_from"),
    "opportunities": ("opportunity_id", "O", 7, "amount", "created_at"),
    "activities": ("event_id", "A", 9, "value", "occurred_at"),
    "measurements": ("measurement_id", "M", 7, "value", "measured_at"),
    "feedback": ("survey_id", "S", 7, "score", "responded_at"),
    "targets": ("period", "", 0, "target", "period"),
}
_FRESH_ID_KINDS = {"negative", "unknown_department", "bad_date", "decimal_comma", "currency", "out_of_range",
                   "invalid_value"}


def _comma(expr: pl.Expr) -> pl.Expr:
    """'1234567.50' -> '1.234.567,50' (European decimal comma and thousands dots)."""
    s = expr.str.replace(r"\.", ",", literal=False)
    s = s.str.replace(r"(\d)(\d{3}),", "${1}.${2},")
    return s.str.replace(r"(\d)(\d{3})\.", "${1}.${2}.")


def add_bad_rows(rng: np.random.Generator, name: str, df: pl.DataFrame, frac: float,
                 end_date: dt.date) -> pl.DataFrame:
    """Mix ~frac × rows realistic defects into one dataset's frame, at random positions."""
    n = df.height
    if n == 0:
        return df
    kinds = _BAD_KINDS[name]
    k = max(1, round(frac * n))
    kind = rng.permutation(np.arange(k) % len(kinds))
    src = np.sort(rng.integers(0, n, k))
    sample = df[src].with_columns(_kind=pl.Series(kind, dtype=pl.Int64), _r=pl.Series(rng.random(k)))
    id_col, prefix, width, num_col, time_col = _BAD_COLS[name]
    y = end_date.year
    bad_dates = pl.Series([f"31/02/{y}", "yesterday", f"{y}-13-01", f"03/15/{y} 10:00", "n/a"])
    pick = lambda options: pl.lit(pl.Series(options)).get((pl.col("_r") * len(options)).cast(pl.Int64))  # noqa: E731
    out = []
    fresh_next = _max_id_number(df, id_col, prefix) + 1 if prefix else 0
    for j, kname in enumerate(kinds):
        sub = sample.filter(pl.col("_kind") == j)
        if sub.height == 0:
            continue
        if kname == "missing_key":
            sub = sub.with_columns(pl.lit(None, pl.String).alias(id_col if name != "targets" else "metric"))
        elif kname == "conflict":
            if name == "employees":
                sub = sub.with_columns(full_name=pl.col("full_name") + pl.lit(" Jr."))
            elif name == "activities":
                sub = sub.with_columns(quantity=pl.lit("3"))
            elif name == "feedback":
                sub = sub.with_columns(score=pl.when(pl.col("score") == "3").then(pl.lit("4")).otherwise(pl.lit("3")))
            elif name == "measurements":  # a second, slightly different reading under the same id
                sub = sub.with_columns(value=reformat(pl.col("value").cast(pl.Float64) * 0.97, 4))
            else:
                sub = sub.with_columns(reformat(pl.col(num_col).cast(pl.Float64) * 1.1 + 1, 2).alias(num_col))
        elif kname == "negative":
            col = {"activities": "quantity"}.get(name, num_col)
            sub = sub.with_columns(pl.concat_str([pl.lit("-"), pl.col(col).fill_null("1")]).alias(col))
        elif kname == "unknown_department":
            sub = sub.with_columns(pick(["sales_ops", "Logistics", "warehouse", "cust_service"]).alias("department"))
        elif kname == "bad_date":
            if name == "targets":
                sub = sub.with_columns(period=pick([f"{y}-Q5", f"Q3 {y}", f"{y}-13", f"{y}/07"]))
            else:
                sub = sub.with_columns(pick(bad_dates.to_list()).alias(time_col))
        elif kname == "decimal_comma":
            if name == "activities":
                filler = reformat(pl.lit(1000.0) + pl.col("_r") * 50_000, 2)
                sub = sub.with_columns(value=_comma(pl.col("value").fill_null(filler)))
            elif name == "feedback":
                sub = sub.with_columns(score=pl.concat_str([pl.col("score").str.replace(r"\..*$", ""), pl.lit(",5")]))
            else:
                sub = sub.with_columns(_comma(pl.col(num_col)).alias(num_col))
            if name == "targets":  # a new key: an employee-level row for the same department
                sub = sub.with_columns(employee_id=pl.lit("E00001"))
        elif kname == "currency":
            sub = sub.with_columns(currency=pick(["USD", "COP", "eur"]))
        elif kname == "out_of_range":
            if name == "employees":
                sub = sub.with_columns(fte=pick(["0", "1.5", "0.0", "2"]))
            else:
                sub = sub.with_columns(score=pick(["11", "12.5", "-1", "100"]))
        elif kname == "invalid_value":
            sub = sub.with_columns(
                stage=pl.when(pl.col("_r") < 0.5).then(pl.lit("pending")).otherwise(pl.col("stage")),
                source=pl.when(pl.col("_r") >= 0.5).then(pl.lit("trade_show")).otherwise(pl.col("source")),
            )
        if kname in _FRESH_ID_KINDS and prefix:
            ids = pl.Series(np.arange(fresh_next, fresh_next + sub.height))
            fresh_next += sub.height
            sub = sub.with_columns(pl.concat_str([pl.lit(prefix), ids.cast(pl.String).str.zfill(width)])
                                   .alias(id_col))
        out.append(sub.drop("_kind", "_r"))
    bad = pl.concat(out)
    pos = np.concatenate([np.arange(n) * 2 + 1, rng.integers(0, n + 1, bad.height) * 2])
    order = np.argsort(pos, kind="stable")
    return pl.concat([df, bad]).select(df.columns)[order]


def _max_id_number(df: pl.DataFrame, col: str, prefix: str) -> int:
    s = df.get_column(col).drop_nulls().str.strip_prefix(prefix).cast(pl.Int64, strict=False)
    v = s.max()
    return int(v) if v is not None else 0
