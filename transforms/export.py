"""Shaping HR's bonus export: exact figures to fixed decimals, text made safe for spreadsheets."""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from transforms.scoring import round_half_up

#: The formats HR's export is written in.
FORMATS = ("csv", "xlsx")
EXPORT_COLUMNS = ["employee_id", "full_name", "department", "period", "composite", "payout_multiplier",
                  "bonus_amount", "currency", "incomplete", "plan_version", "run_id", "missing_data", "partial",
                  "first_data_day", "last_data_day"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def round_exact(value: str, places: int = 6) -> str:
    """An exact rational (text 'p/q' or a decimal) rounded half-up to ``places`` decimals, as text."""
    return str(round_half_up(Fraction(value), places))


def guard_text(value: str | None) -> str:
    """Stop a value from being read as a spreadsheet formula (CSV and XLSX)."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


#: Columns that are text in every format: ids and names, guarded against formulas.
TEXT_COLUMNS = ("employee_id", "full_name", "department", "period", "currency", "plan_version", "run_id")
#: Exact figures rounded half-up to 6 decimals (numbers in a spreadsheet).
FIGURE_COLUMNS = ("composite", "payout_multiplier")
#: Money in the period's currency, to cents (a number with a two-decimal format in a spreadsheet).
MONEY_COLUMNS = ("bonus_amount",)


def missing_data_text(policy: str | None, reason: str | None) -> str:
    """The export's ``missing_data``: empty, or what the plan's missing-data policy did and why, e.g.
    ``zero: days_to_invoice: no actual (counted as 0)``."""
    if not policy:
        return ""
    return guard_text(f"{policy}: {reason}" if reason else policy)


def shape_bonus_export(lines: pl.DataFrame, *, draft: bool) -> pl.DataFrame:
    """Rows of ``bonus_lines`` -> the export table, typed (stable column order, sorted by employee_id):
    text columns guarded against formulas, composite and multiplier as Decimal(38,6) rounded half-up from the
    exact values, bonus_amount as Decimal(18,2), incomplete and partial as Boolean, the first and last day
    with data as Date; ``missing_data`` (text) flags every employee whose result a missing metric changed.
    :func:`export_text` gives the CSV's text; a spreadsheet writer keeps the types."""
    guarded = {c: pl.col(c).map_elements(guard_text, return_dtype=pl.Utf8) for c in TEXT_COLUMNS}
    out = lines.sort("employee_id").select(
        guarded["employee_id"],
        guarded["full_name"],
        guarded["department"],
        guarded["period"],
        pl.col("composite_exact").map_elements(lambda v: round_half_up(Fraction(v), 6), return_dtype=_FIGURE)
        .alias("composite"),
        pl.col("multiplier_exact").map_elements(lambda v: round_half_up(Fraction(v), 6), return_dtype=_FIGURE)
        .alias("payout_multiplier"),
        pl.col("bonus_amount").cast(pl.Decimal(18, 2)),
        guarded["currency"],
        pl.col("incomplete").cast(pl.Boolean),
        guarded["plan_version"],
        guarded["run_id"],
        pl.struct("missing_policy", "incomplete_reason")
        .map_elements(lambda r: missing_data_text(r["missing_policy"], r["incomplete_reason"]), return_dtype=pl.Utf8)
        .alias("missing_data"),
        pl.col("partial").cast(pl.Boolean),
        pl.col("first_data_day").cast(pl.Date),
        pl.col("last_data_day").cast(pl.Date),
    )
    if draft:
        out = out.with_columns(pl.lit("DRAFT").alias("status"))
    return out


_FIGURE = pl.Decimal(38, 6)


def export_text(table: pl.DataFrame) -> pl.DataFrame:
    """The export table as text (the CSV): decimals at their fixed places, booleans ``true``/``false``,
    dates ISO 8601, nulls empty."""
    return table.select(pl.col(c).cast(pl.Utf8).fill_null("") for c in table.columns)


class ExportError(ValueError):
    """The export cannot be made as asked (bad period, not closed, nothing evaluated)."""


def check_export(period: str, fmt: str, draft: bool, *, evaluated: bool, state: str, closed_run: str | None,
                 runs: set[str]) -> None:
    """Raise :class:`ExportError` (a message telling the user what to do) unless ``period`` may be exported:
    ``evaluated`` (it has bonus lines), its ``state`` (open/closed) and ``closed_run``, and the ``runs`` its
    bonus lines come from. Only a closed period whose lines are all from the run it was closed on is
    exported, unless ``draft``."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r} is not supported; use --format csv or --format xlsx")
    if not evaluated:
        raise ExportError(f"no evaluated results for period {period}; run `orbit evaluate --period {period}` first")
    if draft:
        return
    if state != "closed":
        raise ExportError(f"period {period} is not closed; HR exports need a closed period. "
                          f"Close it with `orbit close --period {period}`, or use --draft for a draft export.")
    if runs != {closed_run}:
        raise ExportError(f"period {period} is closed on run {(closed_run or '')[:12]} but holds other results; "
                          f"reopen it (`orbit reopen --period {period} --reason ...`) and close it again")
