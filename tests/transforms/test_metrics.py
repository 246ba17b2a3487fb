from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest

from schemas.plan import Plan
from transforms.metrics import ACTUALS_SCHEMA, TARGETS_SCHEMA, compute_actuals, resolve_targets
from transforms.periods import parse_period

D = Decimal
TS = pl.Datetime("us", "UTC")
BOG = dt.timezone(dt.timedelta(hours=-5))  # America/Bogota has no DST
Q1 = parse_period("2026-Q1")


def at(day: int, month: int = 2, hour: int = 12, minute: int = 0, year: int = 2026) -> dt.datetime:
    """A Bogota wall-clock instant."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=BOG)


PLAN = Plan.model_validate({
    "name": "t", "version": "1", "effective_from": dt.date(2026, 1, 1), "timezone": "America/Bogota",
    "period": "quarter", "currency": "EUR", "achievement_cap": "1.5",
    "departments": ["sales", "marketing", "logistics", "customer_service"],
    "metrics": {
        "closing": {"kind": "closing_index", "target": "0.3"},
        "prospecting": {"kind": "prospecting_index", "target": 10},
        "lead_sla": {"kind": "lead_sla_compliance", "sla_hours": 24, "target": "0.9"},
        "on_time": {"kind": "measurement", "metric": "on_time_delivery", "agg": "mean", "target": "0.95"},
        "ot_sum": {"kind": "measurement", "metric": "on_time_delivery", "agg": "sum"},
        "ot_last": {"kind": "measurement", "metric": "on_time_delivery", "agg": "last"},
        "ot_min": {"kind": "measurement", "metric": "on_time_delivery", "agg": "min"},
        "ot_max": {"kind": "measurement", "metric": "on_time_delivery", "agg": "max"},
        "referrals": {"kind": "activity_count", "activity_types": ["lead_referred", "meeting_held"], "target": 3},
        "csat": {"kind": "customer_satisfaction", "target": "8.5", "cap": "1.2"},
        "contribution": {"kind": "commercial_contribution", "target": 5000},
        "company_revenue": {"kind": "company_revenue"},
    },
    "weights": {
        "sales": {"closing": "0.5", "lead_sla": "0.1", "contribution": "0.2", "company_revenue": "0.2"},
        "marketing": {"prospecting": "0.5", "lead_sla": "0.3", "company_revenue": "0.2"},
        "logistics": {"on_time": "0.2", "ot_sum": "0.2", "ot_last": "0.2", "ot_min": "0.1", "ot_max": "0.1",
                      "referrals": "0.2"},
        "customer_service": {"csat": "1"},
    },
    "role_weights": {"sales/manager": {"closing": "0.6", "referrals": "0.4"}},
    "payout_curve": [[0, 0], [1, 1]],
})


def roster(*rows: tuple[str, str] | tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"employee_id": r[0], "department": r[1], "role": r[2] if len(r) > 2 else "member"} for r in rows],
        schema={"employee_id": pl.Utf8, "department": pl.Utf8, "role": pl.Utf8},
    )


def opportunities(*rows: dict) -> pl.DataFrame:
    base = {"customer_id": "cu", "stage": "open", "amount": D("100.00"), "currency": "EUR", "source": "outbound",
            "closed_at": None, "created_at": at(1, 1)}
    return pl.DataFrame([{**base, **r} for r in rows], schema={
        "opportunity_id": pl.Utf8, "customer_id": pl.Utf8, "created_at": TS, "stage": pl.Utf8,
        "amount": pl.Decimal(18, 2), "currency": pl.Utf8, "owner_employee_id": pl.Utf8, "source": pl.Utf8,
        "closed_at": TS})


def activities(*rows: dict) -> pl.DataFrame:
    base = {"department": "sales", "customer_id": None, "opportunity_id": None, "quantity": None, "value": None}
    return pl.DataFrame([{**base, "event_id": f"e{i}", **r} for i, r in enumerate(rows)], schema={
        "event_id": pl.Utf8, "occurred_at": TS, "employee_id": pl.Utf8, "department": pl.Utf8,
        "activity_type": pl.Utf8, "customer_id": pl.Utf8, "opportunity_id": pl.Utf8,
        "quantity": pl.Decimal(38, 9), "value": pl.Decimal(38, 9)})


def measurements(*rows: dict) -> pl.DataFrame:
    base = {"metric": "on_time_delivery", "employee_id": None, "department": "logistics"}
    return pl.DataFrame([{**base, "measurement_id": f"m{i}", **r} for i, r in enumerate(rows)], schema={
        "measurement_id": pl.Utf8, "measured_at": TS, "department": pl.Utf8, "metric": pl.Utf8,
        "value": pl.Decimal(38, 9), "employee_id": pl.Utf8})


def feedback(*rows: dict) -> pl.DataFrame:
    base = {"customer_id": "cu", "employee_id": None, "department": None}
    return pl.DataFrame([{**base, "survey_id": f"s{i}", **r} for i, r in enumerate(rows)], schema={
        "survey_id": pl.Utf8, "customer_id": pl.Utf8, "responded_at": TS, "score": pl.Decimal(38, 9),
        "employee_id": pl.Utf8, "department": pl.Utf8})


def credits(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame([{"employee_id": e, "credit": D(c)} for e, c in rows],
                        schema={"employee_id": pl.Utf8, "credit": pl.Decimal(18, 2)})


def actuals(rost: pl.DataFrame, *, opps=None, acts=None, meas=None, fb=None, cred=None, as_of=None,
            period=Q1) -> dict[tuple[str, str], tuple[Fraction | None, str]]:
    out = compute_actuals(PLAN, period, rost, opps, acts, meas, fb, cred, as_of)
    assert dict(out.schema) == ACTUALS_SCHEMA
    res = {}
    for r in out.to_dicts():
        value = None if r["actual_num"] is None else Fraction(r["actual_num"]) / r["actual_den"]
        if r["actual_num"] is None:
            assert r["actual_den"] is None
        res[(r["employee_id"], r["metric"])] = (value, r["detail"])
    return res


def value(res: dict, eid: str, metric: str) -> Fraction | None:
    return res[(eid, metric)][0]


# ---- skeleton ----------------------------------------------------------------------------------
def test_one_row_per_employee_and_metric_of_weight_row() -> None:
    out = compute_actuals(PLAN, Q1, roster(("s", "sales"), ("m", "sales", "manager"), ("c", "customer_service")),
                          None, None, None, None, None, None)
    assert out.select("employee_id", "metric").rows() == [
        ("c", "csat"), ("m", "closing"), ("m", "referrals"),
        ("s", "closing"), ("s", "lead_sla"), ("s", "contribution"), ("s", "company_revenue")]
    empty = compute_actuals(PLAN, Q1, roster(), None, None, None, None, None, None)
    assert empty.is_empty() and dict(empty.schema) == ACTUALS_SCHEMA


# ---- measurement -------------------------------------------------------------------------------
def test_measurement_aggregations_on_own_readings() -> None:
    meas = measurements(
        {"employee_id": "d", "measured_at": at(1), "value": D("0.90")},
        {"employee_id": "d", "measured_at": at(20), "value": D("0.80")},  # latest -> last
        {"employee_id": "d", "measured_at": at(5), "value": D("1.00")},
        {"employee_id": "d", "measured_at": at(1, 4), "value": D("0.10")},  # April: next quarter
        {"employee_id": "d", "measured_at": at(5), "value": D("0.5"), "metric": "other"},
        {"employee_id": None, "measured_at": at(5), "value": D("0.2")},  # team row: ignored, own exist
    )
    res = actuals(roster(("d", "logistics")), meas=meas)
    assert value(res, "d", "on_time") == Fraction(27, 30)
    assert value(res, "d", "ot_sum") == Fraction(27, 10)
    assert value(res, "d", "ot_last") == Fraction(8, 10)
    assert value(res, "d", "ot_min") == Fraction(8, 10)
    assert value(res, "d", "ot_max") == Fraction(1)
    assert res[("d", "on_time")][1] == "mean of 3 own on_time_delivery readings"


def test_measurement_falls_back_to_team_rows_of_department() -> None:
    meas = measurements(
        {"measured_at": at(1), "value": D("0.9")},
        {"measured_at": at(2), "value": D("0.6")},
        {"measured_at": at(2), "value": D("0.1"), "department": "sales"},  # other department's team row
        {"employee_id": "other", "measured_at": at(2), "value": D("0.0")},
    )
    res = actuals(roster(("d", "logistics")), meas=meas)
    assert value(res, "d", "on_time") == Fraction(3, 4)
    assert "team" in res[("d", "on_time")][1]


def test_measurement_none_is_no_actual() -> None:
    res = actuals(roster(("d", "logistics")), meas=measurements({"measured_at": at(1, 5), "value": D(1)}))
    assert value(res, "d", "on_time") is None
    assert res[("d", "on_time")][1] == "no on_time_delivery readings"


def test_measurement_last_ties_broken_by_measurement_id() -> None:
    meas = measurements({"employee_id": "d", "measured_at": at(3), "value": D(1), "measurement_id": "a"},
                        {"employee_id": "d", "measured_at": at(3), "value": D(2), "measurement_id": "b"})
    assert value(actuals(roster(("d", "logistics")), meas=meas), "d", "ot_last") == 2


def test_in_period_uses_plan_timezone() -> None:
    # 2026-04-01T03:00Z is 2026-03-31 22:00 in Bogota: still Q1
    meas = measurements({"employee_id": "d", "measured_at": dt.datetime(2026, 4, 1, 3, tzinfo=dt.timezone.utc),
                         "value": D("0.7")},
                        {"employee_id": "d", "measured_at": dt.datetime(2026, 1, 1, 4, tzinfo=dt.timezone.utc),
                         "value": D("0.1")})  # 2025-12-31 23:00 in Bogota: Q4
    assert value(actuals(roster(("d", "logistics")), meas=meas), "d", "on_time") == Fraction(7, 10)


# ---- activity_count ----------------------------------------------------------------------------
def test_activity_count_sums_quantity_null_is_one() -> None:
    acts = activities(
        {"employee_id": "d", "occurred_at": at(1), "activity_type": "lead_referred"},  # 1
        {"employee_id": "d", "occurred_at": at(2), "activity_type": "meeting_held", "quantity": D("2.5")},
        {"employee_id": "d", "occurred_at": at(3), "activity_type": "customer_call", "quantity": D(9)},  # not listed
        {"employee_id": "d", "occurred_at": at(3, 4), "activity_type": "lead_referred"},  # next quarter
        {"employee_id": "x", "occurred_at": at(3), "activity_type": "lead_referred"},  # someone else
    )
    res = actuals(roster(("d", "logistics"), ("z", "logistics")), acts=acts)
    assert value(res, "d", "referrals") == Fraction(7, 2)
    assert value(res, "z", "referrals") == 0  # none: 0, not missing


# ---- prospecting_index --------------------------------------------------------------------------
def test_prospecting_index_counts_distinct_marketing_leads_created_in_period() -> None:
    opps = opportunities(
        {"opportunity_id": "o1", "owner_employee_id": "s", "source": "marketing", "created_at": at(5)},
        {"opportunity_id": "o2", "owner_employee_id": "s", "source": "marketing", "created_at": at(6)},
        {"opportunity_id": "o3", "owner_employee_id": "s", "source": "referral", "created_at": at(6)},
        {"opportunity_id": "o4", "owner_employee_id": "s", "source": "marketing", "created_at": at(20, 12, year=2025)},
    )
    acts = activities(
        {"employee_id": "m", "occurred_at": at(5), "activity_type": "lead_handoff", "opportunity_id": "o1"},
        {"employee_id": "m", "occurred_at": at(6), "activity_type": "lead_handoff", "opportunity_id": "o1"},  # dup
        {"employee_id": "m", "occurred_at": at(2, 4), "activity_type": "lead_handoff", "opportunity_id": "o2"},
        {"employee_id": "m", "occurred_at": at(6), "activity_type": "lead_handoff", "opportunity_id": "o3"},
        {"employee_id": "m", "occurred_at": at(6), "activity_type": "lead_handoff", "opportunity_id": "o4"},
        {"employee_id": "m", "occurred_at": at(6), "activity_type": "meeting_held", "opportunity_id": "o2"},
    )
    res = actuals(roster(("m", "marketing"), ("n", "marketing")), opps=opps, acts=acts)
    assert value(res, "m", "prospecting") == 2  # o1, o2 (handoff time itself is not restricted)
    assert value(res, "n", "prospecting") == 0


# ---- closing_index -----------------------------------------------------------------------------
def test_closing_index_won_over_closed() -> None:
    opps = opportunities(
        {"opportunity_id": "o1", "owner_employee_id": "s", "stage": "won", "closed_at": at(3)},
        {"opportunity_id": "o2", "owner_employee_id": "s", "stage": "won", "closed_at": at(4)},
        {"opportunity_id": "o3", "owner_employee_id": "s", "stage": "lost", "closed_at": at(5)},
        {"opportunity_id": "o4", "owner_employee_id": "s", "stage": "open"},
        {"opportunity_id": "o5", "owner_employee_id": "s", "stage": "lost", "closed_at": at(5, 4)},  # Q2
        {"opportunity_id": "o6", "owner_employee_id": "t", "stage": "open"},
    )
    res = actuals(roster(("s", "sales"), ("t", "sales")), opps=opps)
    assert value(res, "s", "closing") == Fraction(2, 3)
    assert res[("s", "closing")][1] == "2 won / 3 closed"
    assert value(res, "t", "closing") is None  # none closed: no actual


# ---- lead_sla_compliance -------------------------------------------------------------------------
def test_lead_sla_compliance() -> None:
    opps = opportunities(*[{"opportunity_id": f"o{i}", "owner_employee_id": "s"} for i in range(1, 7)],
                         {"opportunity_id": "o9", "owner_employee_id": "m"})
    h = "lead_handoff"
    fc = "first_contact"
    acts = activities(
        # o1: contact exactly at the end of the 24h window -> compliant
        {"employee_id": "m", "occurred_at": at(1, hour=9), "activity_type": h, "opportunity_id": "o1"},
        {"employee_id": "s", "occurred_at": at(2, hour=9), "activity_type": fc, "opportunity_id": "o1"},
        # o2: contact 1 minute late -> not compliant
        {"employee_id": "m", "occurred_at": at(3, hour=9), "activity_type": h, "opportunity_id": "o2"},
        {"employee_id": "s", "occurred_at": at(4, hour=9, minute=1), "activity_type": fc, "opportunity_id": "o2"},
        # o3: contact before the handoff only -> not compliant
        {"employee_id": "s", "occurred_at": at(4, hour=8), "activity_type": fc, "opportunity_id": "o3"},
        {"employee_id": "m", "occurred_at": at(5, hour=9), "activity_type": h, "opportunity_id": "o3"},
        # o4: contact at the same instant, by someone else -> compliant
        {"employee_id": "m", "occurred_at": at(6, hour=9), "activity_type": h, "opportunity_id": "o4"},
        {"employee_id": "x", "occurred_at": at(6, hour=9), "activity_type": fc, "opportunity_id": "o4"},
        # o5: the contact is on another opportunity -> not compliant
        {"employee_id": "m", "occurred_at": at(7, hour=9), "activity_type": h, "opportunity_id": "o5"},
        {"employee_id": "s", "occurred_at": at(7, hour=10), "activity_type": fc, "opportunity_id": "o6"},
        # handoff in the previous quarter -> out
        {"employee_id": "m", "occurred_at": at(30, 12, year=2025), "activity_type": h, "opportunity_id": "o6"},
        # handoff whose window has not ended by as_of -> left out
        {"employee_id": "m", "occurred_at": at(20, hour=9), "activity_type": h, "opportunity_id": "o6"},
        # o9: marketer owns it and hands it off: counted once for them; compliant
        {"employee_id": "m", "occurred_at": at(8, hour=9), "activity_type": h, "opportunity_id": "o9"},
        {"employee_id": "m", "occurred_at": at(8, hour=10), "activity_type": fc, "opportunity_id": "o9"},
    )
    as_of = at(21, hour=8)
    res = actuals(roster(("m", "marketing"), ("s", "sales"), ("t", "sales")), opps=opps, acts=acts, as_of=as_of)
    assert value(res, "m", "lead_sla") == Fraction(3, 6)  # o1, o4, o9 of o1..o5, o9
    assert value(res, "s", "lead_sla") == Fraction(2, 5)  # owner of o1..o5: o1, o4
    assert value(res, "t", "lead_sla") is None  # none: no actual
    assert res[("m", "lead_sla")][1] == "3 of 6 handoffs first-contacted within 24h"
    # once as_of passes the o6 window end, that handoff counts (not contacted)
    res = actuals(roster(("m", "marketing")), opps=opps, acts=acts, as_of=at(21, hour=9))
    assert value(res, "m", "lead_sla") == Fraction(3, 7)
    # as_of defaults to the latest activity loaded (Feb 20 09:00): the o6 window is still open
    assert value(actuals(roster(("m", "marketing")), opps=opps, acts=acts), "m", "lead_sla") == Fraction(3, 6)


# ---- commercial_contribution / company_revenue --------------------------------------------------
def test_commercial_contribution_sums_credits() -> None:
    res = actuals(roster(("s", "sales"), ("t", "sales")), cred=credits(("s", "100.10"), ("s", "0.05"), ("x", "9")))
    assert value(res, "s", "contribution") == Fraction(D("100.15"))
    assert value(res, "t", "contribution") == 0


def test_company_revenue_same_for_everyone() -> None:
    opps = opportunities(
        {"opportunity_id": "o1", "owner_employee_id": "a", "stage": "won", "closed_at": at(3), "amount": D("1000.50")},
        {"opportunity_id": "o2", "owner_employee_id": "b", "stage": "won", "closed_at": at(4), "amount": D("99.50")},
        {"opportunity_id": "o3", "owner_employee_id": "a", "stage": "lost", "closed_at": at(4), "amount": D(7)},
        {"opportunity_id": "o4", "owner_employee_id": "a", "stage": "won", "closed_at": at(4, 4), "amount": D(7)},
    )
    res = actuals(roster(("s", "sales"), ("m", "marketing")), opps=opps)
    assert value(res, "s", "company_revenue") == value(res, "m", "company_revenue") == 1100
    res = actuals(roster(("s", "sales")), opps=opps, period=parse_period("2025-Q4"))
    assert value(res, "s", "company_revenue") == 0


# ---- customer_satisfaction ---------------------------------------------------------------------
def test_customer_satisfaction_own_then_department() -> None:
    fb = feedback(
        {"employee_id": "c", "responded_at": at(1), "score": D(9)},
        {"employee_id": "c", "responded_at": at(2), "score": D(6), "department": "customer_service"},
        {"employee_id": "c", "responded_at": at(2, 4), "score": D(0)},  # Q2
        {"department": "customer_service", "responded_at": at(3), "score": D(8)},
        {"department": "customer_service", "responded_at": at(4), "score": D(7)},
        {"department": "sales", "responded_at": at(4), "score": D(1)},
        {"responded_at": at(4), "score": D(2)},  # names nobody
    )
    res = actuals(roster(("c", "customer_service"), ("d", "customer_service")), fb=fb)
    assert value(res, "c", "csat") == Fraction(15, 2)
    assert value(res, "d", "csat") == Fraction(15, 2)  # (8 + 7) / 2 from department rows
    res = actuals(roster(("c", "customer_service")), fb=feedback({"department": "sales", "responded_at": at(4),
                                                                  "score": D(1)}))
    assert value(res, "c", "csat") is None


# ---- targets -----------------------------------------------------------------------------------
TARGET_SCHEMA = {"period": pl.Utf8, "department": pl.Utf8, "metric": pl.Utf8, "target": pl.Decimal(38, 9),
                 "employee_id": pl.Utf8}


def test_targets_employee_beats_department_beats_plan() -> None:
    t = pl.DataFrame([
        {"period": "2026-Q1", "department": "sales", "metric": "closing", "target": D("0.4"), "employee_id": None},
        {"period": "2026-Q1", "department": "sales", "metric": "closing", "target": D("0.5"), "employee_id": "a"},
        {"period": "2026-Q2", "department": "sales", "metric": "contribution", "target": D(1), "employee_id": None},
        {"period": "2026-Q1", "department": "marketing", "metric": "lead_sla", "target": D("0.7"),
         "employee_id": None},
    ], schema=TARGET_SCHEMA)
    out = resolve_targets(PLAN, Q1, roster(("a", "sales"), ("b", "sales")), t)
    assert dict(out.schema) == TARGETS_SCHEMA
    got = {(r["employee_id"], r["metric"]): (r["target"], r["target_source"]) for r in out.to_dicts()}
    assert got[("a", "closing")] == (D("0.5"), "employee")
    assert got[("b", "closing")] == (D("0.4"), "department")
    assert got[("a", "contribution")] == (D(5000), "plan")  # Q2 row does not apply
    assert got[("a", "lead_sla")] == (D("0.9"), "plan")  # marketing row does not apply to sales
    assert got[("a", "company_revenue")] == (None, None)  # no target anywhere
    assert len(got) == 8


def test_targets_without_dataset() -> None:
    out = resolve_targets(PLAN, Q1, roster(("c", "customer_service")), None)
    assert out.rows() == [("c", "csat", D("8.5"), "plan")]


@pytest.mark.parametrize("lazy", [False, True])
def test_lazy_inputs_are_accepted(lazy: bool) -> None:
    meas = measurements({"employee_id": "d", "measured_at": at(1), "value": D("0.5")})
    res = actuals(roster(("d", "logistics")), meas=meas.lazy() if lazy else meas)
    assert value(res, "d", "on_time") == Fraction(1, 2)


def test_plan_target_beyond_decimal_scale_is_refused() -> None:
    metrics = dict(PLAN.metrics)
    metrics["csat"] = metrics["csat"].model_copy(update={"target": D("8.1234567891")})
    plan = PLAN.model_copy(update={"metrics": metrics})
    with pytest.raises(ValueError, match="more than 9 decimal places"):
        resolve_targets(plan, Q1, roster(("c", "customer_service")), None)
