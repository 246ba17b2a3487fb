"""What-if simulation: a draft plan's scores compared with the plan in force's, on the same data.

Pure: the two evaluations' ``scores`` frames (see :mod:`transforms.scoring`) in, comparison frames out.
The evaluation itself is :func:`transforms.evaluation.evaluate_period`, run once per plan; nothing here
recomputes a score. Differences are exact (composites and multipliers compared as rationals, money in
cents), so the plan in force compared with itself gives zero differences everywhere.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import polars as pl

from transforms.evaluation import data_span, find_periods
from transforms.periods import Period
from transforms.scoring import MONEY, round_half_up

#: multiplier bands of the distribution (lower bound inclusive, upper exclusive; the last is open)
BANDS: tuple[tuple[str, Fraction, Fraction | None], ...] = (
    ("0", Fraction(0), Fraction(0)),
    ("0 – 0.5", Fraction(0), Fraction(1, 2)),
    ("0.5 – 1", Fraction(1, 2), Fraction(1)),
    ("1 – 1.5", Fraction(1), Fraction(3, 2)),
    ("1.5 – 2", Fraction(3, 2), Fraction(2)),
    ("2 and above", Fraction(2), None),
)

EMPLOYEE_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.Utf8(), "employee_id": pl.Utf8(), "full_name": pl.Utf8(), "department": pl.Utf8(),
    "role": pl.Utf8(),
    "composite_before": pl.Utf8(), "composite_after": pl.Utf8(), "composite_change": pl.Utf8(),
    "multiplier_before": pl.Utf8(), "multiplier_after": pl.Utf8(), "multiplier_change": pl.Utf8(),
    "bonus_before": MONEY, "bonus_after": MONEY, "bonus_change": MONEY, "currency": pl.Utf8(),
    "outcome": pl.Utf8(), "missing_before": pl.Utf8(), "missing_after": pl.Utf8(),
}


def complete_periods(frames: dict[str, pl.DataFrame], tz: str, kind: str, today: dt.date) -> list[Period]:
    """The periods that the data covers from their first to their last day, ended by ``today``: the data's
    first event is on or before the period's first day and its last event on or after the period's last day
    (in the plan's timezone)."""
    span = data_span(frames, tz)
    if span is None:
        return []
    first, last = span[0], min(span[1], today)
    return [p for p in find_periods(frames, tz, kind) if p.start >= first and p.end <= last and p.end < today]


def _frac(text: str | None) -> Fraction:
    return Fraction(0) if text is None else Fraction(text)


def _six(value: Fraction) -> str:
    return str(round_half_up(value, 6))


def compare_employees(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """One row per employee and period of either side (:data:`EMPLOYEE_SCHEMA`): composite, multiplier and
    bonus before and after (exact figures to 6 decimals, money to cents) and the outcome (``gains``,
    ``loses``, ``same``; by the bonus, then the multiplier, then the composite)."""
    keys = ["period", "employee_id"]
    cols = ["full_name", "department", "role", "composite_exact", "multiplier_exact", "bonus_amount", "currency",
            "missing_policy"]

    def side(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        have = [c for c in cols if c in frame.columns]
        return frame.select(*keys, *have).rename({c: f"{c}{suffix}" for c in have})

    joined = side(before, "_b").join(side(after, "_a"), on=keys, how="full", coalesce=True).sort(keys)
    rows = []
    for r in joined.iter_rows(named=True):
        cb, ca = _frac(r.get("composite_exact_b")), _frac(r.get("composite_exact_a"))
        mb, ma = _frac(r.get("multiplier_exact_b")), _frac(r.get("multiplier_exact_a"))
        bb, ba = r.get("bonus_amount_b"), r.get("bonus_amount_a")
        change = (ba or Decimal(0)) - (bb or Decimal(0)) if bb is not None or ba is not None else None
        key = next((d for d in (change, ma - mb, ca - cb) if d), 0)
        rows.append({
            "period": r["period"], "employee_id": r["employee_id"],
            "full_name": r.get("full_name_a") or r.get("full_name_b"),
            "department": r.get("department_a") or r.get("department_b"),
            "role": r.get("role_a") or r.get("role_b"),
            "composite_before": _six(cb), "composite_after": _six(ca), "composite_change": _six(ca - cb),
            "multiplier_before": _six(mb), "multiplier_after": _six(ma), "multiplier_change": _six(ma - mb),
            "bonus_before": bb, "bonus_after": ba, "bonus_change": change,
            "currency": r.get("currency_a") or r.get("currency_b"),
            "outcome": "gains" if key > 0 else "loses" if key < 0 else "same",
            "missing_before": r.get("missing_policy_b"), "missing_after": r.get("missing_policy_a"),
        })
    return pl.DataFrame(rows, schema=EMPLOYEE_SCHEMA, orient="row")


def summarise(employees: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Cost before and after (sum of bonuses), its change, and how many employees gain, lose or stay the same,
    grouped ``by`` (e.g. ["period", "department"], ["period"], or [] for the whole comparison)."""
    aggs = [
        pl.len().cast(pl.Int64).alias("employees"),
        pl.col("bonus_before").fill_null(Decimal(0)).sum().cast(MONEY).alias("cost_before"),
        pl.col("bonus_after").fill_null(Decimal(0)).sum().cast(MONEY).alias("cost_after"),
        pl.col("bonus_change").fill_null(Decimal(0)).sum().cast(MONEY).alias("cost_change"),
        (pl.col("outcome") == "gains").sum().cast(pl.Int64).alias("gainers"),
        (pl.col("outcome") == "loses").sum().cast(pl.Int64).alias("losers"),
        (pl.col("outcome") == "same").sum().cast(pl.Int64).alias("unchanged"),
    ]
    if not by:
        return employees.select(aggs)
    return employees.group_by(by).agg(aggs).sort(by)


def _band(value: Fraction) -> str:
    """The band of a multiplier: exactly 0, or the band [lo, hi) it falls in (0 excluded from the first)."""
    if value < 0:
        raise ValueError(f"a payout multiplier below 0: {value}")
    if value == 0:
        return BANDS[0][0]
    return next(label for label, lo, hi in BANDS[1:] if lo <= value and (hi is None or value < hi))


def multiplier_distribution(employees: pl.DataFrame, by_department: bool = False) -> pl.DataFrame:
    """How many employee-periods fall in each multiplier band, before and after: over everyone, or (with
    ``by_department``) per department, every band listed for each."""
    frame = employees.with_columns(
        pl.col("multiplier_before").map_elements(lambda v: _band(Fraction(v)), return_dtype=pl.Utf8).alias("_b"),
        pl.col("multiplier_after").map_elements(lambda v: _band(Fraction(v)), return_dtype=pl.Utf8).alias("_a"),
    )
    groups = sorted(set(frame["department"].to_list()), key=lambda d: d or "") if by_department else [None]
    rows = []
    for dept in groups:
        part = frame.filter(pl.col("department") == dept) if by_department else frame
        before, after = part["_b"].to_list(), part["_a"].to_list()
        for label, _, _ in BANDS:
            rows.append({**({"department": dept} if by_department else {}), "band": label,
                         "before": before.count(label), "after": after.count(label)})
    schema = {**({"department": pl.Utf8} if by_department else {}), "band": pl.Utf8, "before": pl.Int64,
              "after": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def frozen_differences(frozen: pl.DataFrame, recomputed: pl.DataFrame) -> int:
    """How many employees' bonus (or presence) differs between a closed period's frozen figures
    (employee_id, bonus_amount) and the plan in force recomputed on the data loaded now."""
    joined = frozen.select("employee_id", pl.col("bonus_amount").alias("_f"), pl.lit(True).alias("_in_f")).join(
        recomputed.select("employee_id", pl.col("bonus_amount").alias("_r"), pl.lit(True).alias("_in_r")),
        on="employee_id", how="full", coalesce=True)
    return joined.filter(pl.col("_in_f").is_null() | pl.col("_in_r").is_null()
                         | pl.col("_f").ne_missing(pl.col("_r"))).height


def cost_change_share(total: pl.DataFrame) -> Decimal | None:
    """The total cost change as a share of the cost before (None when the cost before is 0)."""
    before, change = total.row(0, named=True)["cost_before"], total.row(0, named=True)["cost_change"]
    return None if not before else (change / before)
