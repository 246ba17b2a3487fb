"""A tiny organisation as typed frames (docs/dev/frames.md) and its evaluated 2026-Q1, for unit tests
of what stores and shows evaluation results (warehouse marts and periods, explain) without Prefect.

Figures under the tiny plan below (the default plan's metrics for four departments, quarter, linear
attribution, a missing metric renormalised; its own, so that tuning the default plan changes nothing here),
by hand:

* O1 (marketing lead, 10,000.00, won 2026-02-15, owner E1) is touched by E2 (lead_handoff), E1
  (first_contact 3 h later) and E3 (delivery); linear credit 1/3 each: 3,333.33 each and the cent
  left over to the largest remainder, ties by employee_id: E1 3,333.34.
* E1 (sales): closing_index 1 won / (1 won + 1 lost) = 1/2 against 0.30 -> 5/3, capped at 3/2;
  contribution 3,333.34 / 5,000 = 166667/250000; company_revenue 10,000 / 2,500,000 = 1/250.
  composite = 1/2 × 3/2 + 3/10 × 166667/250000 + 1/5 × 1/250 = 2377001/2500000 (0.9508004);
  multiplier on the curve between (0.8, 0.5) and (1.0, 1.0) = 877001/1000000;
  bonus = 12,000.00 × 1/4 × 90/90 × 0.877001 = 2,631.003 -> 2,631.00.
* E4 (customer service) has no feedback at all: csat has no actual, the row is incomplete.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
from decimal import Decimal
from pathlib import Path

import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
from schemas.plan import Plan, load_plan
from transforms.evaluation import PeriodResult, evaluate_period
from transforms.periods import Period, parse_period

PERIOD = "2026-Q1"
PLAN_YAML = """\
name: tiny
version: "2026.1"
effective_from: 2024-01-01
timezone: America/Bogota
period: quarter
currency: EUR
achievement_cap: 1.5
when_missing: renormalise
departments: [sales, marketing, customer_service, logistics]
metrics:
  closing_index:   {kind: closing_index, direction: higher, target: 0.30}
  prospecting:     {kind: prospecting_index, direction: higher, target: 12}
  lead_sla:        {kind: lead_sla_compliance, sla_hours: 24, direction: higher, target: 0.90}
  on_time:         {kind: measurement, metric: on_time_delivery, agg: mean, direction: higher, target: 0.95}
  tickets:         {kind: activity_count, activity_types: [ticket_resolved], direction: higher, target: 60}
  referrals:       {kind: activity_count, activity_types: [lead_referred], direction: higher, target: 3}
  csat:            {kind: customer_satisfaction, direction: higher, target: 8.5, cap: 1.2}
  contribution:    {kind: commercial_contribution, direction: higher, target: 5000}
  company_revenue: {kind: company_revenue, direction: higher, target: 2500000}
weights:
  sales:            {closing_index: 0.5, contribution: 0.3, company_revenue: 0.2}
  marketing:        {prospecting: 0.4, lead_sla: 0.2, contribution: 0.2, company_revenue: 0.2}
  customer_service: {csat: 0.4, tickets: 0.2, referrals: 0.1, contribution: 0.1, company_revenue: 0.2}
  logistics:        {on_time: 0.5, referrals: 0.1, contribution: 0.2, company_revenue: 0.2}
role_weights:
  logistics/driver: {on_time: 0.4, referrals: 0.2, contribution: 0.2, company_revenue: 0.2}
attribution: {model: linear, lookback_days: 180}
payout_curve: [[0.0, 0.0], [0.8, 0.0], [0.8, 0.5], [1.0, 1.0], [1.5, 2.0]]
"""
AS_OF = dt.datetime(2026, 4, 2, tzinfo=dt.timezone.utc)


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def _emp(employee_id, name, department, role, fte, bonus):
    return {"employee_id": employee_id, "full_name": name, "department": department, "role": role,
            "fte": Decimal(fte), "bonus_target": Decimal(bonus), "currency": "EUR",
            "effective_from": dt.date(2025, 1, 1)}


def _act(event_id, at, employee_id, department, activity_type, opportunity_id=None):
    return {"event_id": event_id, "occurred_at": _ts(at), "employee_id": employee_id, "department": department,
            "activity_type": activity_type, "customer_id": "C1", "opportunity_id": opportunity_id}


ROWS: dict[str, list[dict]] = {
    "employees": [
        _emp("E1", "Ana Ruiz", "sales", "account_executive", "1", "12000.00"),
        _emp("E2", "Bo Lee", "marketing", "marketing_specialist", "1", "6000.00"),
        _emp("E3", "Cy Díaz", "logistics", "driver", "0.5", "3000.00"),
        _emp("E4", "Di Wu", "customer_service", "support_agent", "1", "3000.00"),
    ],
    "opportunities": [
        {"opportunity_id": "O1", "customer_id": "C1", "created_at": _ts("2026-01-10T14:00:00"), "stage": "won",
         "amount": Decimal("10000.00"), "currency": "EUR", "owner_employee_id": "E1", "source": "marketing",
         "closed_at": _ts("2026-02-15T15:00:00")},
        {"opportunity_id": "O2", "customer_id": "C2", "created_at": _ts("2026-01-20T14:00:00"), "stage": "lost",
         "amount": Decimal("5000.00"), "currency": "EUR", "owner_employee_id": "E1", "source": "outbound",
         "closed_at": _ts("2026-03-01T15:00:00")},
    ],
    "activities": [
        _act("A1", "2026-01-10T14:05:00", "E2", "marketing", "lead_handoff", "O1"),
        _act("A2", "2026-01-10T17:05:00", "E1", "sales", "first_contact", "O1"),
        _act("A3", "2026-02-01T15:00:00", "E3", "logistics", "delivery_completed", "O1"),
        _act("A4", "2026-02-20T15:00:00", "E1", "sales", "meeting_held", "O2"),
    ],
    "measurements": [
        {"measurement_id": "M1", "measured_at": _ts("2026-01-31T22:00:00"), "department": "logistics",
         "metric": "on_time_delivery", "value": Decimal("0.97"), "employee_id": "E3"},
    ],
}


def frames() -> dict[str, pl.DataFrame]:
    """The six datasets, typed by the contract (feedback and targets empty)."""
    return {name: pl.DataFrame(ROWS.get(name, []), schema=polars_schema(name)) for name in DATASETS}


def period() -> Period:
    return parse_period(PERIOD)


@functools.cache
def plan() -> Plan:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.yaml"
        path.write_text(PLAN_YAML, encoding="utf-8")
        return load_plan(path)


def evaluate() -> PeriodResult:
    return evaluate_period(plan(), period(), frames(), AS_OF)
