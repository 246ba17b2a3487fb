"""Touches: closed opportunities joined to the activities that carry their id within the lookback."""

from __future__ import annotations

import polars as pl

from schemas.contracts import CLOSED_STAGES
from transforms.attribution.common import TOUCH_FRAME_COLUMNS, TOUCH_ORDER


def build_touches(opportunities: pl.DataFrame, activities: pl.DataFrame, lookback_days: int) -> pl.DataFrame:
    """One row per touch of a closed (won or lost) opportunity.

    A touch is an activity carrying the opportunity's id with
    ``closed_at - lookback_days <= occurred_at <= closed_at`` (both ends
    inclusive; a day is 24 hours of UTC time). Columns: ``TOUCH_FRAME_COLUMNS`` with
    the input dtypes; rows sorted by (opportunity_id, occurred_at, event_id).
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    closed = (
        opportunities.lazy()
        .select("opportunity_id", "stage", "amount", "closed_at", "owner_employee_id")
        .filter(pl.col("stage").is_in(CLOSED_STAGES) & pl.col("closed_at").is_not_null())
    )
    acts = (
        activities.lazy()
        .select("event_id", "employee_id", "department", "occurred_at", "opportunity_id")
        .filter(pl.col("opportunity_id").is_not_null())
    )
    return (
        closed.join(acts, on="opportunity_id", how="inner")
        .filter(
            (pl.col("occurred_at") <= pl.col("closed_at"))
            & (pl.col("occurred_at") >= pl.col("closed_at") - pl.duration(days=lookback_days))
        )
        .select(TOUCH_FRAME_COLUMNS)
        .sort(TOUCH_ORDER)
        .collect()
    )
