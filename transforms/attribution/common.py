"""Constants and schemas shared by the attribution modules; exact share scaling and the output frames."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import polars as pl

from schemas.marts import FIGURE_PLACES, frame_schema
from transforms.rounding import half_up

MODELS = ("last_touch", "first_touch", "linear", "position_based", "time_decay", "shapley", "markov")
HEURISTIC_MODELS = MODELS[:5]
GAME_MODELS = MODELS[5:]
UNKNOWN_DEPARTMENT = "unknown"

#: Shares and department values are published rounded half-up to this many decimals.
SHARE_DECIMALS = FIGURE_PLACES
SHARE_SCALE = 10**SHARE_DECIMALS
#: Bound below which the vectorised Int128 allocation cannot overflow.
INT128_SAFE = 1 << 125

#: The columns of a touch frame (build_touches); not the event-time columns that date a row for periods.
TOUCH_FRAME_COLUMNS = (
    "opportunity_id",
    "stage",
    "amount",
    "closed_at",
    "owner_employee_id",
    "event_id",
    "employee_id",
    "department",
    "occurred_at",
)
#: The frames :func:`attribute_credits` returns: the declared marts' columns (schemas/marts.py) without
#: the period and the run stamps.
CREDITS_SCHEMA = frame_schema("attribution_credits", exclude=("period",))
_VALUES = frame_schema("attribution_department_values", exclude=("period",))
DEPARTMENT_VALUES_SCHEMA = pl.Schema({c: _VALUES[c] for c in ("department", "model", "value")})
# Internal allocation rows: one per (opportunity, credited employee).
ROWS_SCHEMA = pl.Schema(
    {
        "opportunity_id": pl.Utf8,
        "employee_id": pl.Utf8,
        "department": pl.Utf8,
        "credit_cents": pl.Int64,
        "share_scaled": pl.Int64,
    }
)
TOUCH_ORDER = ["opportunity_id", "occurred_at", "event_id", "employee_id", "department"]


def scaled_share(num: int, den: int) -> int:
    """num / den * 10^12 rounded half-up, for den > 0 (exact integers)."""
    return half_up(num * SHARE_SCALE, den)


def rows_to_credits(rows: pl.DataFrame, model: str) -> pl.DataFrame:
    return (
        rows.sort("opportunity_id", "employee_id")
        .select(
            "opportunity_id",
            "employee_id",
            "department",
            model=pl.lit(model, dtype=pl.Utf8),
            credit=(pl.col("credit_cents").cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(18, 2)),
            share=(pl.col("share_scaled").cast(pl.Decimal(38, SHARE_DECIMALS)) / SHARE_SCALE).cast(
                pl.Decimal(38, SHARE_DECIMALS)
            ),
        )
    )


def values_frame(values: Mapping[str, Fraction], model: str) -> pl.DataFrame:
    names = sorted(values)
    scaled = [scaled_share(v.numerator, v.denominator) for v in (values[d] for d in names)]
    return pl.DataFrame(
        {"department": names, "model": [model] * len(names), "scaled": scaled},
        schema={"department": pl.Utf8, "model": pl.Utf8, "scaled": pl.Int64},
    ).select(
        "department",
        "model",
        value=(pl.col("scaled").cast(pl.Decimal(38, SHARE_DECIMALS)) / SHARE_SCALE).cast(
            pl.Decimal(38, SHARE_DECIMALS)
        ),
    )
