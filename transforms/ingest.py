"""Pure ingest transforms: raw text rows in, typed rows and quarantined rows out.

A delivered file is first read as text (every column Utf8, plus ``_line``, the
1-based line or record number in the file). These functions then check its
columns against the contract, cast each value to the contract's type (a value
that does not parse is a row-level problem, never a silent null), and split
rows that repeat a key within the file.
"""

from __future__ import annotations

import polars as pl

from schemas.contracts import Column, Dataset
from schemas.derive import polars_dtype

#: Text forms accepted for each non-text type; anything else is quarantined as ``bad_type``.
_NUMBER = r"^[+-]?\d+(\.\d+)?$"
_MONEY = r"^[+-]?\d+(\.\d{1,2})?$"
_INT = r"^[+-]?\d+$"
_DECIMAL_PLACES = 9
QUARANTINE_SCHEMA = pl.Schema({"_line": pl.Int64, "reason": pl.Utf8, "column": pl.Utf8})


def check_columns(columns: list[str], ds: Dataset) -> tuple[list[str], list[str]]:
    """Return (missing required columns, extra columns) of a delivered file."""
    present = set(columns)
    missing = [c for c in ds.required_columns if c not in present]
    known = set(ds.column_names) | {"_line"}
    extra = [c for c in columns if c not in known]
    return missing, extra


def _blank_to_null(name: str) -> pl.Expr:
    s = pl.col(name).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s).alias(name)


def parse_timestamp(text: pl.Expr, tz: str) -> pl.Expr:
    """ISO 8601 text to a UTC instant; text without an offset is read in ``tz``. Unparsable -> null."""
    n = text.str.replace(" ", "T").str.replace(r"[zZ]$", "+00:00")
    aware = n.str.contains(r"[+-]\d{2}:?\d{2}$")
    with_offset = pl.coalesce(
        n.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us"),
        n.str.to_datetime("%Y-%m-%dT%H:%M%z", strict=False, time_unit="us"),
    ).dt.convert_time_zone("UTC")
    naive = (
        pl.coalesce(
            n.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"),
            n.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us"),
            n.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        )
        .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.when(aware).then(with_offset).otherwise(naive)


def _cast(col: Column, tz: str) -> pl.Expr:
    text = pl.col(col.name)
    if col.type == "string":
        return text
    if col.type == "timestamp":
        return parse_timestamp(text, tz)
    if col.type == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    pattern = {"money": _MONEY, "int": _INT, "decimal": _NUMBER}[col.type]
    ok = text.str.contains(pattern)
    if col.type == "decimal":  # more places than the warehouse keeps would be silently rounded
        ok = ok & ~text.str.contains(rf"\.\d{{{_DECIMAL_PLACES + 1},}}$")
    return pl.when(ok).then(text).otherwise(None).cast(polars_dtype(col), strict=False).alias(col.name)


def cast_rows(raw: pl.DataFrame, ds: Dataset, tz: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast a text frame to the contract's types.

    Returns ``(typed, problems)``: ``typed`` has every contract column (absent optional
    columns as nulls), ``_line`` and ``extra`` (a JSON object of unknown columns, or null);
    ``problems`` lists (_line, reason='bad_type', column) for each value that did not parse.
    """
    _, extra = check_columns(raw.columns, ds)
    text = raw.with_columns(
        [_blank_to_null(c.name) if c.name in raw.columns else pl.lit(None, pl.Utf8).alias(c.name) for c in ds.columns]
    )
    typed = text.select(
        "_line",
        *[_cast(c, tz).alias(c.name) for c in ds.columns],
        (pl.struct(extra).struct.json_encode() if extra else pl.lit(None, pl.Utf8)).alias("extra"),
    )
    problems = [
        text.filter(pl.col(c.name).is_not_null() & typed[c.name].is_null()).select(
            "_line", pl.lit("bad_type").alias("reason"), pl.lit(c.name).alias("column")
        )
        for c in ds.columns
        if c.type != "string"
    ]
    return typed, pl.concat([QUARANTINE_SCHEMA.to_frame(), *problems]).sort("_line", "column")


def split_duplicates(typed: pl.DataFrame, ds: Dataset) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Resolve repeated keys within one file.

    Exact duplicate rows count once (the first by line is kept, the others are counted
    as duplicates); rows sharing a key with different values are all quarantined as
    ``duplicate_key_conflict``. Returns ``(unique_rows, conflicts, n_duplicates)``.
    """
    key = list(ds.key)
    content = ds.column_names + ["extra"]
    repeated = typed.select(pl.struct(key).is_duplicated()).to_series()
    if not repeated.any():  # the common case: nothing to resolve, no full-row comparison needed
        return typed, pl.DataFrame(schema=QUARANTINE_SCHEMA), 0
    single, multi = typed.filter(~repeated), typed.filter(repeated)
    distinct = multi.unique(subset=content, keep="first", maintain_order=True)
    n_duplicates = multi.height - distinct.height
    conflicted = distinct.filter(pl.len().over(key) > 1)
    conflict_keys = conflicted.select(key).unique()
    conflicts = (
        multi.join(conflict_keys, on=key, how="semi", nulls_equal=True)
        .select("_line", pl.lit("duplicate_key_conflict").alias("reason"), pl.lit(",".join(key)).alias("column"))
        .sort("_line")
    )
    # Exact copies of a conflicting row are quarantined too, so they are not also counted as duplicates.
    n_duplicates -= conflicts.height - conflicted.height
    kept = distinct.join(conflict_keys, on=key, how="anti", nulls_equal=True)
    unique_rows = pl.concat([single, kept]).sort("_line")
    return unique_rows, conflicts, n_duplicates

#: Which reason names a row when it has several problems (the first listed wins).
_REASON_PRIORITY = ("null_key", "bad_type", "duplicate_key_conflict")


def collect_quarantine(raw: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    """One quarantine row per bad line: _line, reason (primary code), details, raw (JSON of the text row).

    A value that did not parse is reported once as ``bad_type`` (not also as missing).
    """
    if problems.height == 0:
        return pl.DataFrame(schema={"_line": pl.Int64, "reason": pl.Utf8, "details": pl.Utf8, "raw": pl.Utf8})
    bad_type = problems.filter(pl.col("reason") == "bad_type").select("_line", "column")
    problems = problems.join(bad_type, on=["_line", "column"], how="anti").vstack(
        bad_type.with_columns(reason=pl.lit("bad_type")).select(problems.columns)
    )
    rank = pl.col("reason").replace_strict(
        {r: i for i, r in enumerate(_REASON_PRIORITY)}, default=len(_REASON_PRIORITY), return_dtype=pl.Int32
    )
    per_line = (
        problems.unique()
        .sort("_line", rank, "reason", "column")
        .group_by("_line", maintain_order=True)
        .agg(
            pl.col("reason").first(),
            pl.concat_str(pl.col("column"), pl.lit(": "), pl.col("reason")).str.join("; ").alias("details"),
        )
    )
    columns = [c for c in raw.columns if c != "_line"]
    raw_json = raw.select("_line", pl.struct(columns).struct.json_encode().alias("raw"))
    return per_line.join(raw_json, on="_line", how="left").sort("_line")
