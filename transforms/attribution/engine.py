"""Attribution of a batch of closed opportunities with one model: per-employee credits and
per-department values, optionally per period of close."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from schemas.contracts import CLOSED_STAGES
from transforms.attribution.cents import allocate_frame
from transforms.attribution.common import (
    CREDITS_SCHEMA,
    DEPARTMENT_VALUES_SCHEMA,
    HEURISTIC_MODELS,
    MODELS,
    SHARE_SCALE,
    TOUCH_ORDER,
    UNKNOWN_DEPARTMENT,
    rows_to_credits,
    values_frame,
)
from transforms.attribution.games import game_department_weights, game_split, game_values
from transforms.attribution.heuristic import credited_share_values, employee_weights, position_fractions, touch_weights


def _owner_rows(won: pl.DataFrame, touched: pl.DataFrame, owner_departments: pl.DataFrame | None) -> pl.DataFrame:
    """Won opportunities with no touch credit their owner 100% in the owner's department."""
    untouched = won.join(touched.select("opportunity_id").unique(), on="opportunity_id", how="anti")
    if owner_departments is not None:
        od = owner_departments.select(pl.col("employee_id").alias("owner_employee_id"), "department")
        dup = od.filter(pl.col("owner_employee_id").is_duplicated())
        if dup.height:
            raise ValueError(
                "owner_departments must have one row per employee; repeated: "
                + ", ".join(sorted(set(dup["owner_employee_id"].cast(pl.Utf8).to_list()))[:5])
            )
        untouched = untouched.join(od, on="owner_employee_id", how="left")
    else:
        untouched = untouched.with_columns(department=pl.lit(None, dtype=pl.Utf8))
    return untouched.select(
        "opportunity_id",
        pl.col("owner_employee_id").alias("employee_id"),
        pl.col("department").fill_null(UNKNOWN_DEPARTMENT),
        pl.col("cents").alias("credit_cents"),
        pl.lit(SHARE_SCALE, dtype=pl.Int64).alias("share_scaled"),
    )


def _attribute_batch(
    opportunities: pl.DataFrame,
    touches: pl.DataFrame,
    model: str,
    position: tuple[int, int, int],
    half_life: Decimal,
    owner_departments: pl.DataFrame | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    closed = (
        opportunities.lazy()
        .filter(pl.col("stage").is_in(CLOSED_STAGES))
        .select(
            "opportunity_id",
            "stage",
            "owner_employee_id",
            cents=(pl.col("amount").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64),
        )
        .collect()
    )
    won = closed.filter(pl.col("stage") == "won")
    t = (
        touches.lazy()
        .select("opportunity_id", "event_id", "employee_id", "department", "occurred_at")
        .join(closed.lazy().select("opportunity_id", "stage", "cents"), on="opportunity_id", how="inner")
    )
    if model in HEURISTIC_MODELS:
        tw = touch_weights(t.filter(pl.col("stage") == "won"), model, position, half_life)
        rows = allocate_frame(employee_weights(tw))
        values = None
    else:
        ranked = (
            t.sort(TOUCH_ORDER)
            .with_columns(idx=pl.int_range(pl.len(), dtype=pl.Int64).over("opportunity_id"))
            .collect()
        )
        values = game_values(ranked, model)
        rows = game_split(ranked.filter(pl.col("stage") == "won"), game_department_weights(values))
        tw = ranked
    rows = pl.concat([rows, _owner_rows(won, tw, owner_departments)], how="vertical")
    dept_values = credited_share_values(rows, model) if values is None else values_frame(values, model)
    return rows_to_credits(rows, model), dept_values


def attribute_credits(
    opportunities: pl.DataFrame,
    touches: pl.DataFrame,
    *,
    model: str,
    position_first: Decimal = Decimal("0.4"),
    position_last: Decimal = Decimal("0.4"),
    half_life_days: Decimal = Decimal(14),
    owner_departments: pl.DataFrame | None = None,
    period_of_close: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split every won opportunity in ``opportunities`` over its touching employees.

    ``opportunities``: the opportunities closed in one period (columns
    opportunity_id, stage, amount, owner_employee_id; open rows are ignored).
    ``touches``: from :func:`build_touches` (only opportunity_id, event_id,
    employee_id, department, occurred_at are read; touches of opportunities not
    closed in ``opportunities`` are ignored). The Shapley and Markov games are
    played over every closed opportunity passed in with at least one touch.

    ``period_of_close`` (opportunity_id, period) splits the batch: each period
    is attributed (and its games played) on its own and both outputs gain a
    leading ``period`` column. Every closed opportunity must have a period.

    Returns ``(credits, department_values)``:

    * credits (``CREDITS_SCHEMA``): one row per won opportunity and employee with
      a positive share, sorted by (opportunity_id, employee_id); ``share`` is the
      exact share rounded half-up to 12 decimals, ``credit`` the cents
      allocated by the largest-remainder rule (sums to the amount exactly).
      A won opportunity with no touch credits its owner in the owner's
      department from ``owner_departments`` (employee_id, department), or
      ``"unknown"``.
    * department_values (``DEPARTMENT_VALUES_SCHEMA``): shapley φ, markov
      removal effect, or for heuristic models the department's share of the
      total credited amount; sorted by department.
    """
    if model not in MODELS:
        raise ValueError(f"unknown attribution model {model!r}; expected one of {', '.join(MODELS)}")
    position = position_fractions(position_first, position_last)
    half_life = Decimal(half_life_days)
    if half_life <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    if period_of_close is None:
        return _attribute_batch(opportunities, touches, model, position, half_life, owner_departments)
    periods = period_of_close.select("opportunity_id", pl.col("period").cast(pl.Utf8))
    opps = opportunities.filter(pl.col("stage").is_in(CLOSED_STAGES)).join(periods, on="opportunity_id", how="left")
    missing = opps.filter(pl.col("period").is_null())
    if missing.height:
        raise ValueError(
            f"{missing.height} closed opportunities have no period in period_of_close, e.g. "
            + ", ".join(sorted(missing["opportunity_id"].to_list())[:5])
        )
    credits_parts = [pl.DataFrame(schema={"period": pl.Utf8, **CREDITS_SCHEMA})]
    values_parts = [pl.DataFrame(schema={"period": pl.Utf8, **DEPARTMENT_VALUES_SCHEMA})]
    for period in sorted(opps["period"].unique().to_list()):
        part = opps.filter(pl.col("period") == period)
        credits, values = _attribute_batch(part, touches, model, position, half_life, owner_departments)
        credits_parts.append(credits.select(pl.lit(period, dtype=pl.Utf8).alias("period"), pl.all()))
        values_parts.append(values.select(pl.lit(period, dtype=pl.Utf8).alias("period"), pl.all()))
    return pl.concat(credits_parts, how="vertical"), pl.concat(values_parts, how="vertical")
