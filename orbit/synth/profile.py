"""The company profile: departments, roles, bonus ranges, touch and referral habits, day-to-day
work rates, activity types, opportunity sources and names (constants; no randomness here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.contracts import ENGINE_ACTIVITY_TYPES


@dataclass(frozen=True)
class Role:
    name: str
    weight: float
    bonus: tuple[int, int]  # annual bonus target range, whole EUR


@dataclass(frozen=True)
class Dept:
    share: float
    manager: Role
    span: int
    roles: tuple[Role, ...]
    touch_rate: float  # share of opportunities this department touches (besides sales/marketing/finance rules)
    touch_type: str
    touch_roles: tuple[str, ...] | None  # roles that do the touching (None = anyone)
    win_lift: float  # multiplier on the win probability when it touches a deal
    referral_weight: float  # how often it is the referrer of a referral-sourced deal
    referral_rate: float  # spontaneous referrals per workday per member


PROFILES: dict[str, Dept] = {
    "sales": Dept(0.15, Role("sales_manager", 0, (14000, 20000)), 8,
                  (Role("account_executive", 1.0, (8000, 16000)),),
                  0.0, "meeting_held", None, 1.0, 0.03, 0.0),
    "marketing": Dept(0.08, Role("marketing_manager", 0, (9000, 14000)), 7,
                      (Role("marketing_specialist", 0.6, (4000, 9000)),
                       Role("demand_generation", 0.4, (4000, 9000))),
                      0.0, "lead_handoff", None, 1.0, 0.04, 0.002),
    "customer_service": Dept(0.12, Role("cs_team_lead", 0, (5000, 8000)), 10,
                             (Role("support_agent", 1.0, (2000, 4000)),),
                             0.25, "customer_call", ("support_agent",), 1.15, 0.24, 0.006),
    "logistics": Dept(0.20, Role("logistics_manager", 0, (6000, 10000)), 15,
                      (Role("driver", 0.85, (2000, 3500)), Role("logistics_coordinator", 0.15, (3000, 5000))),
                      0.10, "delivery_completed", ("driver",), 1.3, 0.38, 0.008),
    "dispatch": Dept(0.08, Role("dispatch_supervisor", 0, (5000, 8000)), 10,
                     (Role("dispatcher", 1.0, (2500, 4500)),),
                     0.06, "customer_call", ("dispatcher",), 1.1, 0.08, 0.004),
    "finance": Dept(0.07, Role("finance_manager", 0, (9000, 15000)), 8,
                    (Role("accountant", 0.4, (3000, 7000)), Role("billing_clerk", 0.35, (2500, 5000)),
                     Role("credit_analyst", 0.25, (3500, 7000))),
                    0.0, "credit_approved", ("credit_analyst", "finance_manager"), 1.25, 0.06, 0.0015),
    "hr": Dept(0.05, Role("hr_manager", 0, (8000, 12000)), 8,
               (Role("recruiter", 0.5, (3000, 6000)), Role("hr_generalist", 0.5, (3000, 6000))),
               0.03, "training_completed", None, 1.1, 0.04, 0.0015),
    "facilities": Dept(0.05, Role("facilities_manager", 0, (5000, 9000)), 10,
                       (Role("maintenance_technician", 0.7, (2000, 4000)), Role("receptionist", 0.3, (2000, 3500))),
                       0.05, "meeting_held", None, 1.1, 0.07, 0.0015),
    "technology": Dept(0.10, Role("engineering_manager", 0, (12000, 20000)), 8,
                       (Role("software_engineer", 0.6, (5000, 12000)), Role("it_support", 0.4, (3000, 6000))),
                       0.10, "meeting_held", ("software_engineer", "engineering_manager"), 1.25, 0.06, 0.0015),
}


def generic_profile(dept: str) -> Dept:
    return Dept(0.05, Role(f"{dept}_manager", 0, (6000, 10000)), 8,
                (Role(f"{dept}_specialist", 1.0, (3000, 6000)),),
                0.04, "customer_call", None, 1.1, 0.03, 0.0015)


#: Day-to-day work: (department, roles, activity_type, rate per workday, calendar, customer?, quantity, value)
BULK: tuple[tuple[str, tuple[str, ...], str, float, str, bool, str, str], ...] = (
    ("logistics", ("driver",), "delivery_completed", 4.0, "6d", True, "parcels", ""),
    ("logistics", ("logistics_coordinator",), "customer_call", 1.5, "5d", True, "", ""),
    ("dispatch", ("dispatcher", "dispatch_supervisor"), "delivery_completed", 1.5, "6d", True, "stops", ""),
    ("customer_service", ("support_agent",), "ticket_resolved", 1.0, "5d", True, "", ""),
    ("customer_service", ("support_agent", "cs_team_lead"), "customer_call", 1.2, "5d", True, "", ""),
    ("finance", ("accountant", "billing_clerk"), "invoice_issued", 1.5, "5d", True, "", "invoice"),
    ("finance", ("credit_analyst",), "credit_approved", 0.4, "5d", True, "", "hours"),
    ("sales", ("account_executive", "sales_manager"), "meeting_held", 0.4, "5d", True, "", ""),
    ("hr", ("recruiter",), "candidate_interviewed", 1.0, "5d", False, "", ""),
    ("facilities", ("maintenance_technician",), "work_order_completed", 1.5, "5d", False, "", ""),
    ("facilities", ("receptionist",), "customer_call", 0.5, "5d", True, "", ""),
    ("technology", ("software_engineer", "it_support"), "incident_resolved", 0.6, "5d", False, "", ""),
)
GENERIC_BULK_RATE = 0.5  # customer_call per workday for departments without a profile
TRAINING_RATE = 1 / 63  # training_completed per workday, everyone (~one per quarter)

#: The contract's vocabulary, then types of the generator's own that no default plan metric counts (they
#: show as `unknown_activity_type` in data_quality, as a department's unrecognised work would).
ACTIVITY_TYPES = (
    *ENGINE_ACTIVITY_TYPES,
    "credit_approved", "candidate_interviewed", "work_order_completed", "incident_resolved",
)
TYPE_INDEX = {name: i for i, name in enumerate(ACTIVITY_TYPES)}

SOURCES = ("marketing", "referral", "outbound", "inbound", "partner")
SOURCE_P = np.array([0.35, 0.15, 0.20, 0.20, 0.10])
SOURCE_WIN = np.array([0.24, 0.38, 0.15, 0.28, 0.30])

FIRST_NAMES = ("Ana", "Luis", "Carlos", "María", "Jorge", "Lucía", "Andrés", "Sofía", "Camilo", "Valentina",
               "Diego", "Laura", "Felipe", "Daniela", "Juan", "Paula", "Santiago", "Camila", "Mateo", "Isabel",
               "Pedro", "Elena", "Tomás", "Natalia", "Miguel", "Sara", "David", "Julia", "Samuel", "Carmen",
               "James", "Emma", "Oliver", "Olivia", "Liam", "Mia", "Noah", "Ava", "Lucas", "Chloe",
               "Ahmed", "Fatima", "Wei", "Mei", "Ravi", "Priya", "Kenji", "Yuki", "Pierre", "Claire")
LAST_NAMES = ("García", "Rodríguez", "Martínez", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres",
              "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Ortiz", "Gutiérrez", "Chávez", "Ramos",
              "Vargas", "Castillo", "Jiménez", "Moreno", "Romero", "Herrera", "Medina", "Aguilar", "Rojas",
              "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clark", "Walker", "Young", "Hall", "Allen",
              "Müller", "Schmidt", "Rossi", "Bianchi", "Dubois", "Martin", "Silva", "Santos", "Khan", "Chen",
              "Nakamura", "O'Brien")
