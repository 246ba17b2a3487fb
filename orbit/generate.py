"""Synthetic organisation generator (``orbit generate``).

The model of the company
------------------------
A mid-sized distribution company whose departments are the plan's
``departments``. Each known department has a headcount share (sales 15%,
marketing 8%, customer service 12%, logistics 20% — mostly drivers —,
dispatch 8%, finance 7%, HR 5%, facilities 5%, technology 10%; any other
department gets 5% and generic roles), a manager role with a span of control
and member roles with annual bonus targets. Managers report to the
department's head manager, members to a manager of their department. About
10%/year of people join inside the window and 8%/year leave; ~6% of the
stable members get a second roster row (fte change, role change or a
transfer to another non-sales department).

Everything happens inside a window of ``months`` whole months ending at
``end_date`` (local dates in the plan's timezone); nothing is dated after
``end_date`` 23:59 local time.

* **Opportunities** (~0.6 per employee per month) are opened on workdays by
  a seller active at that moment. Their source drives the first touches:
  ``marketing`` leads are handed over by a marketer (``lead_handoff``) and
  contacted by the owner (``first_contact``, mostly within 24 h; each seller
  has their own lateness rate so the lead SLA varies); ``referral`` leads
  start with a ``lead_referred`` by anyone (drivers and customer service
  most often). Before the decision, other departments touch some deals:
  customer service calls, sample deliveries by drivers, dispatch calls,
  finance credit approvals on large deals (fast or slow), technology demos,
  facilities-hosted visits and HR-run customer trainings. The win
  probability depends on the source, the seller's skill and on which
  departments touched the deal, so attribution models have signal.
  Deals closing after the window (or stalled) stay ``open``.
* **Activities** also hold each department's day-to-day work, generated per
  roster row from a Poisson rate per workday: deliveries (the bulk),
  dispatch routes, tickets and calls, invoices, credit reviews, interviews,
  work orders, incidents, trainings and spontaneous referrals.
* **Measurements** are monthly KPI readings per employee (or team figures).
* **Feedback** follows resolved tickets and deliveries.
* **Targets** are written per plan period for the metrics whose plan default
  does not fit the generated scale (company revenue, contribution,
  prospecting, tickets, referrals), plus a few employee-level overrides.

All randomness comes from one ``numpy.random.default_rng(seed)``; all work
is vectorised (numpy + polars), so the same arguments give the same bytes.
``bad_rows`` mixes realistic defects into every dataset.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from schemas.contracts import DATASETS
from schemas.plan import Plan

log = logging.getLogger(__name__)

DATASET_ORDER = ("employees", "opportunities", "activities", "measurements", "feedback", "targets")

DAY = 86_400
HOUR = 3_600
_NULL = np.iinfo(np.int64).min  # "no value" in fixed-point int arrays
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


# ---------------------------------------------------------------------------
# Company profile
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Role:
    name: str
    weight: float
    bonus: tuple[int, int]  # annual bonus target range, whole EUR


@dataclass(frozen=True)
class _Dept:
    share: float
    manager: _Role
    span: int
    roles: tuple[_Role, ...]
    touch_rate: float  # share of opportunities this department touches (besides sales/marketing/finance rules)
    touch_type: str
    touch_roles: tuple[str, ...] | None  # roles that do the touching (None = anyone)
    win_lift: float  # multiplier on the win probability when it touches a deal
    referral_weight: float  # how often it is the referrer of a referral-sourced deal
    referral_rate: float  # spontaneous referrals per workday per member


_PROFILES: dict[str, _Dept] = {
    "sales": _Dept(0.15, _Role("sales_manager", 0, (14000, 20000)), 8,
                   (_Role("account_executive", 1.0, (8000, 16000)),),
                   0.0, "meeting_held", None, 1.0, 0.03, 0.0),
    "marketing": _Dept(0.08, _Role("marketing_manager", 0, (9000, 14000)), 7,
                       (_Role("marketing_specialist", 0.6, (4000, 9000)),
                        _Role("demand_generation", 0.4, (4000, 9000))),
                       0.0, "lead_handoff", None, 1.0, 0.04, 0.002),
    "customer_service": _Dept(0.12, _Role("cs_team_lead", 0, (5000, 8000)), 10,
                              (_Role("support_agent", 1.0, (2000, 4000)),),
                              0.25, "customer_call", ("support_agent",), 1.15, 0.24, 0.006),
    "logistics": _Dept(0.20, _Role("logistics_manager", 0, (6000, 10000)), 15,
                       (_Role("driver", 0.85, (2000, 3500)), _Role("logistics_coordinator", 0.15, (3000, 5000))),
                       0.10, "delivery_completed", ("driver",), 1.3, 0.38, 0.008),
    "dispatch": _Dept(0.08, _Role("dispatch_supervisor", 0, (5000, 8000)), 10,
                      (_Role("dispatcher", 1.0, (2500, 4500)),),
                      0.06, "customer_call", ("dispatcher",), 1.1, 0.08, 0.004),
    "finance": _Dept(0.07, _Role("finance_manager", 0, (9000, 15000)), 8,
                     (_Role("accountant", 0.4, (3000, 7000)), _Role("billing_clerk", 0.35, (2500, 5000)),
                      _Role("credit_analyst", 0.25, (3500, 7000))),
                     0.0, "credit_approved", ("credit_analyst", "finance_manager"), 1.25, 0.06, 0.0015),
    "hr": _Dept(0.05, _Role("hr_manager", 0, (8000, 12000)), 8,
                (_Role("recruiter", 0.5, (3000, 6000)), _Role("hr_generalist", 0.5, (3000, 6000))),
                0.03, "training_completed", None, 1.1, 0.04, 0.0015),
    "facilities": _Dept(0.05, _Role("facilities_manager", 0, (5000, 9000)), 10,
                        (_Role("maintenance_technician", 0.7, (2000, 4000)), _Role("receptionist", 0.3, (2000, 3500))),
                        0.05, "meeting_held", None, 1.1, 0.07, 0.0015),
    "technology": _Dept(0.10, _Role("engineering_manager", 0, (12000, 20000)), 8,
                        (_Role("software_engineer", 0.6, (5000, 12000)), _Role("it_support", 0.4, (3000, 6000))),
                        0.10, "meeting_held", ("software_engineer", "engineering_manager"), 1.25, 0.06, 0.0015),
}


def _generic_profile(dept: str) -> _Dept:
    return _Dept(0.05, _Role(f"{dept}_manager", 0, (6000, 10000)), 8,
                 (_Role(f"{dept}_specialist", 1.0, (3000, 6000)),),
                 0.04, "customer_call", None, 1.1, 0.03, 0.0015)


#: Day-to-day work: (department, roles, activity_type, rate per workday, calendar, customer?, quantity, value)
_BULK: tuple[tuple[str, tuple[str, ...], str, float, str, bool, str, str], ...] = (
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
_GENERIC_BULK_RATE = 0.5  # customer_call per workday for departments without a profile
_TRAINING_RATE = 1 / 63  # training_completed per workday, everyone (~one per quarter)

ACTIVITY_TYPES = (
    "lead_handoff", "first_contact", "lead_referred", "meeting_held", "ticket_resolved",
    "delivery_completed", "invoice_issued", "customer_call", "training_completed",
    "credit_approved", "candidate_interviewed", "work_order_completed", "incident_resolved",
)
_T = {name: i for i, name in enumerate(ACTIVITY_TYPES)}

SOURCES = ("marketing", "referral", "outbound", "inbound", "partner")
_SOURCE_P = np.array([0.35, 0.15, 0.20, 0.20, 0.10])
_SOURCE_WIN = np.array([0.24, 0.38, 0.15, 0.28, 0.30])

_FIRST = ("Ana", "Luis", "Carlos", "María", "Jorge", "Lucía", "Andrés", "Sofía", "Camilo", "Valentina",
          "Diego", "Laura", "Felipe", "Daniela", "Juan", "Paula", "Santiago", "Camila", "Mateo", "Isabel",
          "Pedro", "Elena", "Tomás", "Natalia", "Miguel", "Sara", "David", "Julia", "Samuel", "Carmen",
          "James", "Emma", "Oliver", "Olivia", "Liam", "Mia", "Noah", "Ava", "Lucas", "Chloe",
          "Ahmed", "Fatima", "Wei", "Mei", "Ravi", "Priya", "Kenji", "Yuki", "Pierre", "Claire")
_LAST = ("García", "Rodríguez", "Martínez", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres",
         "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Ortiz", "Gutiérrez", "Chávez", "Ramos",
         "Vargas", "Castillo", "Jiménez", "Moreno", "Romero", "Herrera", "Medina", "Aguilar", "Rojas",
         "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clark", "Walker", "Young", "Hall", "Allen",
         "Müller", "Schmidt", "Rossi", "Bianchi", "Dubois", "Martin", "Silva", "Santos", "Khan", "Chen",
         "Nakamura", "O'Brien")


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
def default_end_date(today: dt.date) -> dt.date:
    """The last day of the last complete month before ``today``."""
    return today.replace(day=1) - dt.timedelta(days=1)


def generate_org(
    *, employees: int, months: int, seed: int, end_date: dt.date, plan: Plan, bad_rows: float = 0.0
) -> dict[str, pl.DataFrame]:
    """Pure: returns one all-Utf8 DataFrame per dataset (employees, opportunities, activities,
    measurements, feedback, targets), columns in contract order, values already formatted as
    they appear in files."""
    if months < 1:
        raise ValueError("months must be at least 1")
    if employees < len(plan.departments):
        raise ValueError(f"employees must be at least {len(plan.departments)} (one per plan department)")
    if not 0 <= bad_rows < 1:
        raise ValueError("bad_rows is a fraction in [0, 1)")
    rng = np.random.default_rng(seed)
    g = _Gen(rng, employees, months, end_date, plan)
    g.roster()
    g.opportunities()
    g.bulk_activities()
    g.finish_activities()
    g.measurements()
    g.feedback()
    g.targets()
    frames = g.frames()
    if bad_rows > 0:
        frames = {name: _add_bad_rows(rng, name, df, bad_rows, end_date) for name, df in frames.items()}
    log.info("generated organisation: %s", ", ".join(f"{k}={v.height}" for k, v in frames.items()))
    return frames


def write_org(frames: dict[str, pl.DataFrame], landing: Path, *, end_date: dt.date) -> dict[str, Path]:
    """Writes landing/<dataset>/<dataset>_<end_date>.csv (UTF-8, header row, empty string for null)
    and returns the paths. Same frames -> same bytes."""
    landing = Path(landing)
    paths: dict[str, Path] = {}
    for name in [n for n in DATASET_ORDER if n in frames] + sorted(set(frames) - set(DATASET_ORDER)):
        folder = landing / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}_{end_date.isoformat()}.csv"
        tmp = folder / f".{path.name}.part"  # hidden until complete: file watchers never see half a file
        frames[name].write_csv(tmp, include_header=True, null_value="", line_terminator="\n",
                               check_extension=False)
        os.replace(tmp, path)
        paths[name] = path
        log.info("wrote %s (%d rows)", path, frames[name].height)
    return paths


# ---------------------------------------------------------------------------
# Formatting helpers (vectorised)
# ---------------------------------------------------------------------------
def _id_expr(col: str, prefix: str, width: int) -> pl.Expr:
    """Non-negative ints -> 'P000123'; negative -> null."""
    return pl.when(pl.col(col) >= 0).then(
        pl.concat_str([pl.lit(prefix), pl.col(col).cast(pl.String).str.zfill(width)])
    )


def _fixed_expr(col: str, scale: int) -> pl.Expr:
    """Non-negative fixed-point ints (value × 10**scale) -> '123.45'; null stays null."""
    unit = 10**scale
    c = pl.col(col)
    return pl.concat_str([(c // unit).cast(pl.String), pl.lit("."), (c % unit).cast(pl.String).str.zfill(scale)])


def _opt(arr: np.ndarray) -> pl.Series:
    """An int64 array whose _NULL entries become nulls."""
    return pl.DataFrame({"x": np.asarray(arr, np.int64)}).select(
        pl.when(pl.col("x") != _NULL).then(pl.col("x"))).to_series()


def _ts_expr(col: str, tz: str) -> pl.Expr:
    """Local wall-clock seconds since 1970-01-01 -> ISO 8601 with the zone's UTC offset.
    A wall time inside a DST gap is moved one hour back (never later); an ambiguous one
    takes the earlier instant."""
    local = pl.from_epoch(pl.col(col), time_unit="s")
    aware = local.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    back = (local - pl.duration(hours=1)).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return pl.coalesce(aware, back).dt.strftime(_TS_FORMAT)


def _date_expr(col: str) -> pl.Expr:
    """Days since 1970-01-01 -> 'YYYY-MM-DD'; null stays null."""
    return pl.from_epoch(pl.col(col), time_unit="d").dt.strftime("%Y-%m-%d")


def _gather(values: list[str] | pl.Series, idx: np.ndarray) -> pl.Series:
    """values[idx] as a String series; idx < 0 gives null."""
    base = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    ext = pl.concat([base.cast(pl.String), pl.Series([None], dtype=pl.String)])
    idx = np.asarray(idx, dtype=np.int64)
    return ext.gather(np.where(idx < 0, len(values), idx))


# ---------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------
class _Gen:
    """Holds the numpy state of one generated organisation (days are offsets from the window start)."""

    def __init__(self, rng: np.random.Generator, n: int, months: int, end_date: dt.date, plan: Plan) -> None:
        self.rng, self.n, self.months, self.plan = rng, n, months, plan
        y, m = end_date.year, end_date.month - (months - 1)
        while m < 1:
            y, m = y - 1, m + 12
        self.ws = dt.date(y, m, 1)
        self.we = end_date
        self.D = (end_date - self.ws).days + 1
        self.E0 = (self.ws - dt.date(1970, 1, 1)).days  # epoch day of the window start
        self.S0 = self.E0 * DAY  # local wall-clock seconds of the window start
        self.T_end = self.S0 + (self.D - 1) * DAY + 23 * HOUR + 59 * 60
        self.depts = list(plan.departments)
        self.prof = [_PROFILES.get(d) or _generic_profile(d) for d in self.depts]
        weekday = (np.arange(self.D) + self.ws.weekday()) % 7
        self.cal = {}
        for name, mask in (("5d", weekday < 5), ("6d", weekday < 6)):
            self.cal[name] = (np.flatnonzero(mask), np.concatenate([[0], np.cumsum(mask)]))
        # activity chunks: t, emp(slot), dept, type, customer, opp, qty, value(cents)
        self._chunks: list[tuple[np.ndarray, ...]] = []

    # ---- time helpers ----------------------------------------------------
    def _workday(self, start: np.ndarray, end: np.ndarray, cal: str = "5d") -> np.ndarray:
        """A uniform workday in [start, end] (inclusive day offsets); start itself if none."""
        days, cum = self.cal[cal]
        start = np.clip(start, 0, self.D - 1)
        end = np.clip(end, 0, self.D - 1)
        lo = cum[start]
        cnt = cum[end + 1] - lo
        u = self.rng.random(start.size)
        if days.size == 0:
            return start
        k = np.minimum(lo + np.floor(u * np.maximum(cnt, 1)).astype(np.int64), days.size - 1)
        return np.where(cnt > 0, days[k], start)

    def _tod(self, size: int, lo: float, mode: float, hi: float) -> np.ndarray:
        """Time of day in seconds, whole minutes, triangular over hours."""
        return (self.rng.triangular(lo, mode, hi, size) * 60).astype(np.int64) * 60

    def _between(self, lo: np.ndarray, hi: np.ndarray, f_lo: float = 0.05, f_hi: float = 0.95) -> np.ndarray:
        """A business-hours timestamp between lo and hi (seconds), clipped into (lo, hi)."""
        span = np.maximum(hi - lo, 0)
        raw = lo + (self.rng.uniform(f_lo, f_hi, lo.size) * span).astype(np.int64)
        day = raw // DAY
        t = day * DAY + self._tod(lo.size, 8.0, 11.0, 17.5)
        t = np.clip(t, lo + np.minimum(60, span // 2), hi - np.minimum(60, span // 2))
        return t

    def _day_of(self, t: np.ndarray) -> np.ndarray:
        return (t - self.S0) // DAY

    # ---- roster ------------------------------------------------------------
    def roster(self) -> None:
        rng, n, D = self.rng, self.n, self.D
        nd = len(self.depts)
        shares = np.array([p.share for p in self.prof])
        floor_each = 2 if n >= 2 * nd else 1
        counts = _allocate(n - floor_each * nd, shares) + floor_each
        role_names: list[str] = []
        role_index: dict[str, int] = {}
        role_bonus: list[tuple[int, int]] = []

        def rid(r: _Role) -> int:
            if r.name not in role_index:
                role_index[r.name] = len(role_names)
                role_names.append(r.name)
                role_bonus.append(r.bonus)
            return role_index[r.name]

        for p in self.prof:
            rid(p.manager)
            for r in p.roles:
                rid(r)
        self.role_names = role_names
        role_bonus_arr = np.array(role_bonus)
        self.dept_managers: list[np.ndarray] = []
        self.dept_roles = [np.array([rid(r) for r in p.roles]) for p in self.prof]
        parts: list[tuple[np.ndarray, ...]] = []  # dept, role, is_mgr, manager
        start = 0
        for d, (p, c) in enumerate(zip(self.prof, counts)):
            n_mgr = max(1, round(c / (p.span + 1)))
            n_mgr = min(n_mgr, c - 1) if c >= 2 else 1
            members = c - n_mgr
            role_counts = _allocate(members, np.array([r.weight for r in p.roles]), first_min=1)
            mgr_slots = np.arange(start, start + n_mgr)
            self.dept_managers.append(mgr_slots)
            mgr_boss = np.where(mgr_slots == start, -1, start)  # the first manager heads the department
            member_boss = mgr_slots[rng.integers(0, n_mgr, members)]
            parts.append((np.full(c, d), np.concatenate([np.full(n_mgr, rid(p.manager)),
                                                         np.repeat(self.dept_roles[d], role_counts)]),
                          np.arange(c) < n_mgr, np.concatenate([mgr_boss, member_boss])))
            start += c
        dept0, role0, is_mgr, manager0 = (np.concatenate(x) for x in zip(*parts))

        # person attributes
        self.emp_num = rng.permutation(n) + 1  # E-number per slot
        first = rng.integers(0, len(_FIRST), n)
        last = rng.integers(0, len(_LAST), n)
        self.names = pl.Series(_FIRST).gather(first) + " " + pl.Series(_LAST).gather(last)
        fte0 = np.where(is_mgr, 10, rng.choice([10, 8, 5], n, p=[0.85, 0.08, 0.07]))
        lo, hi = role_bonus_arr[role0, 0], role_bonus_arr[role0, 1]
        bonus0 = (lo + rng.random(n) * (hi - lo)).round(-2).astype(np.int64) * 100  # cents
        self.skill = np.clip(rng.lognormal(0, 0.25, n), 0.6, 1.6)  # sellers' win skill
        self.late = rng.beta(2, 11, n)  # sellers' share of late first contacts
        self.quality = rng.normal(0, 0.7, n)  # service quality (feedback)
        self.pace = rng.gamma(4, 0.25, n)  # marketers' lead volume weight

        # joiners, leavers, changers
        scale = self.months / 12
        u = rng.random(n)
        p_join, p_leave = min(0.10 * scale, 0.4), min(0.08 * scale, 0.4)
        joiner = ~is_mgr & (u < p_join)
        leaver = ~is_mgr & (u >= p_join) & (u < p_join + p_leave)
        changer = ~is_mgr & ~joiner & ~leaver & (rng.random(n) < 0.06) & (D >= 10)
        eff_from = np.where(joiner, rng.integers(0, D, n), -rng.integers(1, 3650, n))
        eff_to = np.where(leaver, rng.integers(0, D, n), _NULL)

        # second rows: 0 fte change, 1 role change in the department, 2 transfer (never into/out of sales)
        margin = min(30, D // 4)
        cday = rng.integers(margin, max(margin + 1, D - margin), n)
        kind = rng.integers(0, 3, n)
        n_roles = np.array([r.size for r in self.dept_roles])
        sales = self.depts.index("sales") if "sales" in self.depts else -1
        non_sales = np.array([d for d in range(nd) if d != sales])
        kind = np.where((kind == 1) & (n_roles[dept0] < 2), 0, kind)
        kind = np.where((kind == 2) & ((dept0 == sales) | (non_sales.size < 2)), 0, kind)
        fte1 = np.where(kind == 0, np.where(fte0 == 10, 8, 10), fte0)
        dept1, role1, manager1 = dept0.copy(), role0.copy(), manager0.copy()
        r_role, r_dept, r_pick, r_mgr = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
        # role change: another role of the same department
        for d in range(nd):
            m = changer & (kind == 1) & (dept0 == d)
            if m.any():
                roles = self.dept_roles[d]
                cur = (roles[None, :] == role0[m][:, None]).argmax(axis=1)
                k = (r_role[m] * (roles.size - 1)).astype(np.int64)
                role1[m] = roles[np.where(k >= cur, k + 1, k)]
        # transfer: another non-sales department, a role by weight, one of its managers
        tr = changer & (kind == 2)
        if tr.any():
            pos = np.searchsorted(non_sales, dept0[tr])
            k = (r_dept[tr] * (non_sales.size - 1)).astype(np.int64)
            dept1[tr] = non_sales[np.where(k >= pos, k + 1, k)]
            for d in np.unique(dept1[tr]):
                m = tr & (dept1 == d)
                w = np.array([r.weight for r in self.prof[d].roles])
                cdf = np.cumsum(w) / w.sum()
                role1[m] = self.dept_roles[d][np.minimum(np.searchsorted(cdf, r_pick[m], side="right"),
                                                         w.size - 1)]
                mg = self.dept_managers[d]
                manager1[m] = mg[(r_mgr[m] * mg.size).astype(np.int64)]
        rb = role_bonus_arr[role1]
        newb = (rb[:, 0] + rng.random(n) * (rb[:, 1] - rb[:, 0])).round(-2).astype(np.int64) * 100
        bonus1 = np.where(kind == 0, bonus0, newb)
        write_to = rng.random(n) < 0.5  # first row carries an explicit effective_to

        ch = np.flatnonzero(changer)
        # spells: every roster row, with resolved validity
        sp_emp = np.concatenate([np.arange(n), ch])
        sp_dept = np.concatenate([dept0, dept1[ch]])
        sp_role = np.concatenate([role0, role1[ch]])
        sp_fte = np.concatenate([fte0, fte1[ch]])
        sp_bonus = np.concatenate([bonus0, bonus1[ch]])
        sp_mgr = np.concatenate([manager0, manager1[ch]])
        sp_from = np.concatenate([eff_from, cday[ch]])
        end0 = np.where(changer, cday - 1, np.where(eff_to != _NULL, eff_to, D - 1))
        sp_to_written = np.concatenate([np.where(changer, np.where(write_to, cday - 1, _NULL), eff_to),
                                        np.full(ch.size, _NULL)])
        sp_end = np.concatenate([end0, np.full(ch.size, D - 1)])
        self.sp = dict(emp=sp_emp, dept=sp_dept, role=sp_role, fte=sp_fte, bonus=sp_bonus, mgr=sp_mgr,
                       frm=sp_from, to_written=sp_to_written,
                       start=np.clip(sp_from, 0, D - 1), end=np.minimum(sp_end, D - 1))
        self.sp_is_mgr = np.concatenate([is_mgr, is_mgr[ch]])
        self.emp_manager = manager0

    def _spells(self, dept: int, roles: tuple[str, ...] | None = None) -> np.ndarray:
        sp = self.sp
        m = sp["dept"] == dept
        if roles is not None:
            ids = [self.role_names.index(r) for r in roles if r in self.role_names]
            m &= np.isin(sp["role"], ids)
        return np.flatnonzero(m)

    def _pick(self, cand: np.ndarray, days: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """For each day, a spell from ``cand`` active that day (weighted); -1 if cand is empty."""
        out = np.full(days.size, -1, dtype=np.int64)
        if cand.size == 0 or days.size == 0:
            return out
        start, end, rng = self.sp["start"], self.sp["end"], self.rng
        p = None if weights is None else weights / weights.sum()
        todo = np.arange(days.size)
        for _ in range(10):
            if todo.size == 0:
                break
            pick = cand[rng.choice(cand.size, todo.size, p=p)]
            ok = (start[pick] <= days[todo]) & (end[pick] >= days[todo])
            out[todo[ok]] = pick[ok]
            todo = todo[~ok]
        if todo.size:
            for d in np.unique(days[todo]):  # bounded by the window's days
                sel = todo[days[todo] == d]
                act = cand[(start[cand] <= d) & (end[cand] >= d)]
                if act.size == 0:  # nobody active: the closest spell
                    gap = np.maximum(start[cand] - d, d - end[cand])
                    act = cand[gap == gap.min()]
                out[sel] = act[rng.integers(0, act.size, sel.size)]
        return out

    def _add(self, t, spell, typ, customer=None, opp=None, qty=None, value=None) -> None:
        """Queue activities done by the employees of ``spell`` (department = the spell's)."""
        keep = (spell >= 0) & (t <= self.T_end)
        k = int(keep.sum())

        def full(a: np.ndarray | None, fill: int) -> np.ndarray:
            return np.full(k, fill, np.int64) if a is None else np.asarray(a, np.int64)[keep]

        sp = spell[keep]
        self._chunks.append((t[keep].astype(np.int64), self.sp["emp"][sp], self.sp["dept"][sp],
                             np.full(k, _T[typ]) if isinstance(typ, str) else np.asarray(typ)[keep],
                             full(customer, -1), full(opp, -1), full(qty, _NULL), full(value, _NULL)))

    # ---- customers -----------------------------------------------------------
    def _customers(self, size: int) -> np.ndarray:
        if not hasattr(self, "_cust_cdf"):
            self.n_cust = max(40, int(self.n * 1.5))
            w = 1.0 / (np.arange(self.n_cust) + 10.0) ** 0.9
            self._cust_cdf = np.cumsum(w) / w.sum()
            self._cust_perm = self.rng.permutation(self.n_cust)
        r = np.searchsorted(self._cust_cdf, self.rng.random(size), side="right")
        return self._cust_perm[np.minimum(r, self.n_cust - 1)]

    # ---- opportunities -------------------------------------------------------
    def opportunities(self) -> None:
        rng, D, sp = self.rng, self.D, self.sp
        n = max(1, round(self.n * self.months * 0.6))
        day = self._workday(np.zeros(n, np.int64), np.full(n, D - 1))
        t0 = self.S0 + day * DAY + self._tod(n, 8.5, 10.5, 17.5)
        source = rng.choice(len(SOURCES), n, p=_SOURCE_P)
        sales = self.depts.index("sales") if "sales" in self.depts else 0
        sellers = self._spells(sales, ("account_executive", "sales_manager"))
        if sellers.size == 0:
            sellers = self._spells(sales)
        w = np.where(self.sp_is_mgr[sellers], 0.25, 1.0) * sp["fte"][sellers]
        owner_sp = self._pick(sellers, day, w)
        owner = sp["emp"][owner_sp]
        customer = self._customers(n)
        amt = np.clip(rng.lognormal(np.log(12000), 0.95, n), 1000, 200000)
        amt = np.where(rng.random(n) < 0.4, np.round(amt, -2), np.round(amt, 2))
        cents = np.round(amt * 100).astype(np.int64)

        # first touches
        mk = source == 0
        hand_t = t0 + rng.integers(0, 16, n) * 60
        has_fc = np.isin(source, [0, 1, 3])
        late = rng.random(n) < self.late[owner]
        delay = np.where(late, rng.uniform(25, 96, n) * HOUR,
                         np.clip(rng.exponential(4 * HOUR, n), 5 * 60, 23 * HOUR)).astype(np.int64) // 60 * 60
        fc_t = np.where(mk, hand_t, t0) + delay

        # decision timeline
        base = np.where(has_fc, np.maximum(t0, fc_t), t0)
        dur = np.ceil(np.clip(rng.lognormal(np.log(28), 0.6, n), 2, 120)).astype(np.int64)
        close_day = self._day_of(base) + dur
        close_t = self.S0 + close_day * DAY + self._tod(n, 9, 14, 18)
        closed = (close_t <= self.T_end) & (rng.random(n) >= 0.06)
        upper = np.where(closed, close_t, self.T_end)

        # the owner's last employed day caps the owner's own activities
        last_day = np.full(self.n, -1, np.int64)
        np.maximum.at(last_day, sp["emp"], sp["end"])
        owner_end_t = self.S0 + last_day[owner] * DAY + 23 * HOUR

        # cross-department touches decided up front (they move the win probability)
        p_win = _SOURCE_WIN[source] * self.skill[owner]
        touches: list[tuple[int, np.ndarray]] = []
        for d, prof in enumerate(self.prof):
            if self.depts[d] in ("sales", "marketing"):
                continue
            if self.depts[d] == "finance":
                flag = (cents > 1_500_000) & (rng.random(n) < 0.7)
            else:
                flag = rng.random(n) < prof.touch_rate
            if not flag.any() and self._spells(d).size:
                flag[rng.integers(0, n)] = True  # every department touches at least one deal
            touches.append((d, flag))
            if self.depts[d] == "finance":
                fast = rng.random(n) < 0.6
                self._fin_fast = fast
                p_win = p_win * np.where(flag, np.where(fast, prof.win_lift, 0.75), 1.0)
            else:
                p_win = p_win * np.where(flag, prof.win_lift, 1.0)
        manager_meet = rng.random(n) < 0.15
        p_win = np.clip(p_win * np.where(manager_meet, 1.1, 1.0), 0.03, 0.85)
        won = closed & (rng.random(n) < p_win)
        stage = np.where(closed, np.where(won, 1, 2), 0)  # 0 open, 1 won, 2 lost

        opp = np.arange(n)
        # lead_handoff by a marketer, first_contact by the owner
        mkt = self.depts.index("marketing") if "marketing" in self.depts else -1
        if mkt >= 0:
            marketers = self._spells(mkt, ("marketing_specialist", "demand_generation"))
            if marketers.size == 0:
                marketers = self._spells(mkt)
            mi = np.flatnonzero(mk)
            msp = self._pick(marketers, day[mi], self.pace[sp["emp"][marketers]] * sp["fte"][marketers])
            self._add(hand_t[mi], msp, "lead_handoff", customer[mi], opp[mi], qty=np.ones(mi.size))
        fi = np.flatnonzero(has_fc & (fc_t <= upper) & (fc_t <= owner_end_t))
        self._add(fc_t[fi], owner_sp[fi], "first_contact", customer[fi], opp[fi])

        # referrals: somebody refers the lead before it is opened
        ri = np.flatnonzero(source == 1)
        if ri.size:
            rw = np.array([p.referral_weight for p in self.prof])
            rw = rw * np.array([self._spells(d).size > 0 for d in range(len(self.depts))])
            rdept = rng.choice(len(self.depts), ri.size, p=rw / rw.sum())
            rt = t0[ri] - rng.uniform(2 * HOUR, 5 * DAY, ri.size).astype(np.int64) // 60 * 60
            rt = np.clip(rt, self.S0 + 8 * HOUR, t0[ri] - 60)
            rsp = np.full(ri.size, -1)
            for d in np.unique(rdept):
                sel = np.flatnonzero(rdept == d)
                prof = self.prof[d]
                cand = self._spells(d, prof.touch_roles) if self.depts[d] == "logistics" else self._spells(d)
                rsp[sel] = self._pick(cand, self._day_of(rt[sel]))
            self._add(rt, rsp, "lead_referred", customer[ri], opp[ri], qty=np.ones(ri.size))

        # meetings by the owner (and sometimes the owner's manager)
        k = rng.poisson(1.3, n)
        mi = np.repeat(opp, k)
        lo = base[mi]
        hi = np.minimum(upper[mi], owner_end_t[mi])
        ok = hi > lo + 120
        mi, lo, hi = mi[ok], lo[ok], hi[ok]
        self._add(self._between(lo, hi), owner_sp[mi], "meeting_held", customer[mi], opp[mi])
        gi = np.flatnonzero(manager_meet & (upper > base + 120))
        mgr_slot = self.emp_manager[owner[gi]]
        gt = self._between(base[gi], upper[gi])
        has_mgr = mgr_slot >= 0
        gi, gt, mgr_slot = gi[has_mgr], gt[has_mgr], mgr_slot[has_mgr]
        mgr_sp = mgr_slot  # managers never change rows: their spell index is their slot
        self._add(gt, mgr_sp, "meeting_held", customer[gi], opp[gi])

        # the other departments' touches
        for d, flag in touches:
            prof = self.prof[d]
            ti = np.flatnonzero(flag & (upper > t0 + 120))
            if ti.size == 0:
                continue
            cand = self._spells(d, prof.touch_roles)
            if cand.size == 0:
                cand = self._spells(d)
            if self.depts[d] == "finance":
                back = rng.uniform(0.2, 4, ti.size) * DAY
                tt = np.clip((upper[ti] - back).astype(np.int64) // 60 * 60, t0[ti] + 60, upper[ti] - 60)
                fast = self._fin_fast[ti]
                hours = np.where(fast, rng.uniform(0.5, 8, ti.size), rng.uniform(48, 240, ti.size))
                value = np.round(hours * 100).astype(np.int64)
                self._add(tt, self._pick(cand, self._day_of(tt)), "credit_approved", customer[ti], opp[ti],
                          value=value)
                continue
            tt = self._between(t0[ti], upper[ti])
            qty = np.ones(ti.size) if prof.touch_type == "delivery_completed" else None
            self._add(tt, self._pick(cand, self._day_of(tt)), prof.touch_type, customer[ti], opp[ti], qty=qty)

        # invoices for won deals
        fin = self.depts.index("finance") if "finance" in self.depts else -1
        if fin >= 0:
            wi = np.flatnonzero(won)
            it = close_t[wi] + (rng.uniform(0.5, 6, wi.size) * DAY).astype(np.int64) // 60 * 60
            cand = self._spells(fin, ("accountant", "billing_clerk"))
            if cand.size == 0:
                cand = self._spells(fin)
            self._add(it, self._pick(cand, np.minimum(self._day_of(it), self.D - 1)), "invoice_issued",
                      customer[wi], opp[wi], value=cents[wi])

        order = np.argsort(t0, kind="stable")
        self.opp_num = np.empty(n, np.int64)
        self.opp_num[order] = np.arange(1, n + 1)
        self.opp = dict(t0=t0, stage=stage, cents=cents, owner=owner, source=source, customer=customer,
                        close_t=np.where(closed, close_t, _NULL), order=order)

    # ---- day-to-day work -------------------------------------------------------
    def bulk_activities(self) -> None:
        rng, sp = self.rng, self.sp
        rules: list[tuple[np.ndarray, str, float, str, bool, str, str]] = []
        for dept, roles, typ, rate, cal, cust, qty, val in _BULK:
            if dept in self.depts:
                rules.append((self._spells(self.depts.index(dept), roles), typ, rate, cal, cust, qty, val))
        for d, name in enumerate(self.depts):
            if name not in _PROFILES:
                rules.append((self._spells(d), "customer_call", _GENERIC_BULK_RATE, "5d", True, "", ""))
        everyone = np.arange(sp["emp"].size)
        rules.append((everyone, "training_completed", _TRAINING_RATE, "5d", False, "", ""))
        # spontaneous referrals (no opportunity yet)
        ref_rate = np.array([p.referral_rate for p in self.prof])[sp["dept"]]
        rules.append((everyone, "lead_referred", -1.0, "5d", True, "one", ""))
        for cand, typ, rate, cal, cust, qty, val in rules:
            if cand.size == 0:
                continue
            days, cum = self.cal[cal]
            wd = cum[sp["end"][cand] + 1] - cum[sp["start"][cand]]
            r = ref_rate[cand] if rate < 0 else rate
            k = rng.poisson(r * wd * sp["fte"][cand] / 10)
            spell = np.repeat(cand, k)
            m = spell.size
            if m == 0:
                continue
            day = self._workday(sp["start"][spell], sp["end"][spell], cal)
            if typ == "delivery_completed":
                t = self.S0 + day * DAY + self._tod(m, 6.5, 10.5, 18.5)
            else:
                t = self.S0 + day * DAY + self._tod(m, 8.0, 11.0, 18.0)
            customer = self._customers(m) if cust else None
            q = None
            if qty == "parcels":
                u = rng.random(m)
                q = np.where(u < 0.65, _NULL, np.where(u < 0.9, 1, rng.integers(2, 7, m)))
            elif qty == "stops":
                q = rng.integers(8, 31, m)
            elif qty == "one":
                q = np.where(rng.random(m) < 0.5, 1, _NULL)
            v = None
            if val == "invoice":
                v = np.round(np.clip(rng.lognormal(np.log(1800), 0.8, m), 50, 60000) * 100).astype(np.int64)
            elif val == "hours":
                v = np.round(rng.uniform(0.5, 72, m) * 100).astype(np.int64)
            self._add(t, spell, typ, customer, None, q, v)

    def finish_activities(self) -> None:
        cols = list(zip(*self._chunks))
        t, emp, dept, typ, cust, opp, qty, val = (np.concatenate(c) for c in cols)
        order = np.argsort(t, kind="stable")
        self.act = dict(t=t[order], emp=emp[order], dept=dept[order], typ=typ[order], cust=cust[order],
                        opp=opp[order], qty=qty[order], val=val[order])
        self._chunks = []

    # ---- measurements -------------------------------------------------------------
    def measurements(self) -> None:
        rng, sp, n = self.rng, self.sp, self.n
        base = {
            "on_time_delivery": 0.80 + 0.20 * rng.beta(6, 1.6, n),
            "days_to_invoice": np.clip(rng.lognormal(np.log(2.0), 0.35, n), 0.6, 5.5),
            "time_to_hire_days": rng.uniform(20, 48, n),
            "work_orders_on_time": 0.70 + 0.30 * rng.beta(5, 1.5, n),
            "avg_handle_minutes": rng.uniform(4, 14, n),
        }
        noise = {"on_time_delivery": (0.015, 0.80, 1.0), "days_to_invoice": (0.3, 0.5, 6.0),
                 "time_to_hire_days": (5.0, 15.0, 60.0), "work_orders_on_time": (0.03, 0.70, 1.0),
                 "avg_handle_minutes": (1.0, 3.0, 20.0)}
        per_emp = (("logistics", ("driver", "logistics_coordinator"), "on_time_delivery"),
                   ("dispatch", ("dispatcher",), "on_time_delivery"),
                   ("finance", ("accountant", "billing_clerk", "credit_analyst"), "days_to_invoice"),
                   ("hr", ("recruiter", "hr_generalist"), "time_to_hire_days"),
                   ("facilities", ("maintenance_technician",), "work_orders_on_time"),
                   ("customer_service", ("support_agent",), "avg_handle_minutes"))
        team = (("technology", "system_uptime"), ("logistics", "on_time_delivery"),
                ("dispatch", "on_time_delivery"), ("facilities", "work_orders_on_time"))
        metric_names = sorted({m for _, _, m in per_emp} | {m for _, m in team})
        mid = {m: i for i, m in enumerate(metric_names)}
        self.metric_names = metric_names
        month_bounds = self._month_bounds()
        T, DEP, MET, VAL, EMP = [], [], [], [], []
        for dept, roles, metric in per_emp:
            if dept not in self.depts:
                continue
            cand = self._spells(self.depts.index(dept), roles)
            for ms, me in month_bounds:
                c = cand[(sp["start"][cand] <= me) & (sp["end"][cand] >= ms)]
                if c.size == 0:
                    continue
                md = np.minimum(me, sp["end"][c])
                sd, lo, hi = noise[metric]
                v = np.clip(base[metric][sp["emp"][c]] + rng.normal(0, sd, c.size), lo, hi)
                T.append(self.S0 + md * DAY + self._tod(c.size, 16.0, 18.0, 20.0))
                DEP.append(sp["dept"][c])
                MET.append(np.full(c.size, mid[metric]))
                VAL.append(np.round(v * 10_000).astype(np.int64))
                EMP.append(sp["emp"][c])
        for dept, metric in team:
            if dept not in self.depts:
                continue
            d = self.depts.index(dept)
            m = len(month_bounds)
            me = np.array([b[1] for b in month_bounds])
            if metric == "system_uptime":
                v = 0.990 + 0.0099 * rng.beta(5, 1.2, m)
            elif metric == "on_time_delivery":
                v = np.clip(rng.normal(0.935, 0.015, m), 0.85, 0.995)
            else:
                v = np.clip(rng.normal(0.88, 0.04, m), 0.7, 1.0)
            T.append(self.S0 + me * DAY + self._tod(m, 19.0, 20.0, 21.0))
            DEP.append(np.full(m, d))
            MET.append(np.full(m, mid[metric]))
            VAL.append(np.round(v * 10_000).astype(np.int64))
            EMP.append(np.full(m, -1))
        t = np.concatenate(T)
        order = np.argsort(t, kind="stable")
        self.meas = dict(t=t[order], dept=np.concatenate(DEP)[order], metric=np.concatenate(MET)[order],
                         val=np.concatenate(VAL)[order], emp=np.concatenate(EMP)[order])

    def _month_bounds(self) -> list[tuple[int, int]]:
        out = []
        y, m = self.ws.year, self.ws.month
        for _ in range(self.months):
            first = dt.date(y, m, 1)
            y2, m2 = (y + 1, 1) if m == 12 else (y, m + 1)
            last = min(dt.date(y2, m2, 1) - dt.timedelta(days=1), self.we)
            out.append(((first - self.ws).days, (last - self.ws).days))
            y, m = y2, m2
        return out

    # ---- feedback -------------------------------------------------------------------
    def feedback(self) -> None:
        rng, a = self.rng, self.act
        parts = []
        ticket = np.flatnonzero(a["typ"] == _T["ticket_resolved"])
        ticket = ticket[rng.random(ticket.size) < 0.22]
        deliv = np.flatnonzero((a["typ"] == _T["delivery_completed"]) & (a["cust"] >= 0))
        deliv = deliv[rng.random(deliv.size) < 0.004]
        for idx, p_dept_only in ((ticket, 0.12), (deliv, 0.35)):
            # answered 0-3 days later, in the customer's waking hours, never before the event
            day = (a["t"][idx] + rng.integers(0, 4, idx.size) * DAY) // DAY
            t = np.maximum(day * DAY + self._tod(idx.size, 7.0, 13.0, 22.0), a["t"][idx] + 30 * 60)
            emp = np.where(rng.random(idx.size) < p_dept_only, -1, a["emp"][idx])
            q = self.quality[a["emp"][idx]]
            parts.append((t, a["cust"][idx], emp, a["dept"][idx], q))
        n_neither = max(1, round(0.08 * sum(p[0].size for p in parts)))
        day = rng.integers(0, self.D, n_neither)
        parts.append((self.S0 + day * DAY + self._tod(n_neither, 7, 12, 22), self._customers(n_neither),
                      np.full(n_neither, -1), np.full(n_neither, -1), np.zeros(n_neither)))
        t, cust, emp, dept, q = (np.concatenate(c) for c in zip(*parts))
        keep = t <= self.T_end
        t, cust, emp, dept, q = t[keep], cust[keep], emp[keep], dept[keep], q[keep]
        raw = np.clip(rng.normal(8.2 + q, 1.3), 1, 10)
        decimal = rng.random(t.size) < 0.2
        tenths = np.where(decimal, np.round(raw * 10), np.round(raw) * 10).astype(np.int64)
        order = np.argsort(t, kind="stable")
        self.fb = dict(t=t[order], cust=cust[order], emp=emp[order], dept=dept[order],
                       tenths=tenths[order], decimal=decimal[order])

    # ---- targets ---------------------------------------------------------------------
    def _periods(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Period labels overlapping the window, the period index of each window day, and each
        period's first/last window day and coverage (window days / period days)."""
        labels: list[str] = []
        day_p = np.empty(self.D, np.int64)
        starts, ends, cover = [], [], []
        d = self.ws
        while d <= self.we:
            if self.plan.period == "quarter":
                q = (d.month - 1) // 3
                first = dt.date(d.year, 3 * q + 1, 1)
                label = f"{d.year}-Q{q + 1}"
                nxt = dt.date(d.year + 1, 1, 1) if q == 3 else dt.date(d.year, 3 * q + 4, 1)
            else:
                first = dt.date(d.year, d.month, 1)
                label = f"{d.year}-{d.month:02d}"
                nxt = dt.date(d.year + 1, 1, 1) if d.month == 12 else dt.date(d.year, d.month + 1, 1)
            last = min(nxt - dt.timedelta(days=1), self.we)
            a, b = (d - self.ws).days, (last - self.ws).days
            day_p[a:b + 1] = len(labels)
            labels.append(label)
            starts.append(a)
            ends.append(b)
            cover.append((b - a + 1) / (nxt - first).days)
            d = last + dt.timedelta(days=1)
        return labels, day_p, np.array(starts), np.array(ends), np.array(cover)

    def targets(self) -> None:
        rng, sp, a, o, plan = self.rng, self.sp, self.act, self.opp, self.plan
        labels, day_p, p_start, p_end, cover = self._periods()
        P, nd = len(labels), len(self.depts)
        steady = p_start >= 45
        if not steady.any():
            steady = np.ones(P, bool)

        def ref(per_period: np.ndarray) -> float:
            """Mean over steady periods of a per-period figure normalised to a full period."""
            return float(np.mean(per_period[steady] / cover[steady]))

        # headcount per period and department (employees with a roster row overlapping the period)
        head = np.zeros((P, nd))
        for p in range(P):
            act = (sp["start"] <= p_end[p]) & (sp["end"] >= p_start[p]) & (sp["frm"] <= p_end[p])
            pairs = np.unique(sp["emp"][act] * nd + sp["dept"][act])
            head[p] = np.bincount(pairs % nd, minlength=nd)
        head = np.maximum(head, 1)

        # company revenue: won amount by period of closed_at
        won = np.flatnonzero(o["stage"] == 1)
        won_p = day_p[self._day_of(o["close_t"][won])]
        revenue = np.bincount(won_p, weights=o["cents"][won] / 100, minlength=P)

        # contribution: a linear-attribution estimate of credit per employee
        lookback = plan.attribution.lookback_days * DAY
        ti = np.flatnonzero(a["opp"] >= 0)
        to = a["opp"][ti]
        ct = np.where(o["stage"][to] == 1, o["close_t"][to], 0)
        tw = (o["stage"][to] == 1) & (a["t"][ti] <= ct) & (a["t"][ti] >= ct - lookback)
        ti, to = ti[tw], to[tw]
        n_touch = np.bincount(to, minlength=o["stage"].size)
        credit = o["cents"][to] / 100 / n_touch[to]
        cp = day_p[self._day_of(o["close_t"][to])]
        contrib = np.bincount(cp * nd + a["dept"][ti], weights=credit, minlength=P * nd).reshape(P, nd)
        untouched = won[n_touch[won] == 0]
        if untouched.size and "sales" in self.depts:
            s = self.depts.index("sales")
            contrib[:, s] += np.bincount(day_p[self._day_of(o["close_t"][untouched])],
                                         weights=o["cents"][untouched] / 100, minlength=P)
        per_emp = contrib / head

        act_p = day_p[np.clip(self._day_of(a["t"]), 0, self.D - 1)]

        def counts(typ: str) -> np.ndarray:
            m = a["typ"] == _T[typ]
            return np.bincount(act_p[m] * nd + a["dept"][m], minlength=P * nd).reshape(P, nd)

        chunks: list[tuple[np.ndarray, np.ndarray, str, np.ndarray, np.ndarray]] = []
        periods = np.arange(P)

        def add(p: np.ndarray, d: np.ndarray | int, metric: str, cents: np.ndarray | int,
                emp: np.ndarray | int = -1) -> None:
            """Queue target rows (broadcast over arrays): period, department, metric, value in 1/100, employee."""
            p, d, c, e = np.broadcast_arrays(np.asarray(p), np.asarray(d), np.asarray(cents), np.asarray(emp))
            chunks.append((p.ravel(), d.ravel(), metric, np.round(c.ravel()).astype(np.int64), e.ravel()))

        def by_kind(kind: str, types: tuple[str, ...] | None = None) -> list[str]:
            return [name for name, m in plan.metrics.items()
                    if m.kind == kind and (types is None or set(types) <= set(m.activity_types))]

        depts = np.arange(nd)
        for name in by_kind("company_revenue"):
            v = _round_to(0.9 * ref(revenue), 1000)
            add(periods[:, None], depts[None, :], name, np.round(v * cover[:, None]) * 100)
        for name in by_kind("commercial_contribution"):
            v = np.array([0.9 * ref(per_emp[:, d]) for d in range(nd)])
            val = np.round(v[None, :] * cover[:, None] / 10) * 1000
            pp, dd = np.nonzero(val > 0)
            add(pp, dd, name, val[pp, dd])
        if "marketing" in self.depts:
            d = self.depts.index("marketing")
            mk_members = np.maximum(head[:, d] - len(self.dept_managers[d]), 1)
            for name in by_kind("prospecting_index"):
                v = 0.9 * ref(counts("lead_handoff")[:, d] / mk_members)
                add(periods, d, name, np.maximum(1, np.round(v * cover)) * 100)
        cs = self.depts.index("customer_service") if "customer_service" in self.depts else -1
        for name in by_kind("activity_count", ("ticket_resolved",)):
            if cs < 0:
                continue
            agents = self._spells(cs, ("support_agent",))
            overlap = (sp["start"][agents][None, :] <= p_end[:, None]) & (sp["end"][agents][None, :] >= p_start[:, None])
            n_agents = np.array([np.unique(sp["emp"][agents[overlap[p]]]).size for p in range(P)])
            v = 0.95 * ref(counts("ticket_resolved")[:, cs] / np.maximum(n_agents, 1))
            add(periods, cs, name, np.maximum(1, np.round(v * cover)) * 100)
            # part-time agents: a prorated employee-level target
            part = sp["fte"][agents] < 10
            pp, aa = np.nonzero(overlap & part[None, :])
            s_ = agents[aa]
            add(pp, cs, name, np.maximum(1, np.round(v * cover[pp] * sp["fte"][s_] / 10)) * 100, sp["emp"][s_])
        for name in by_kind("activity_count", ("lead_referred",)):
            ref_counts = counts("lead_referred")
            v = np.array([max(0.5, round(ref(ref_counts[:, d] / head[:, d]), 1)) for d in range(nd)])
            add(periods[:, None], depts[None, :], name, np.maximum(0.5, np.round(v[None, :] * cover[:, None], 1)) * 100)
        # senior sellers get a tougher closing-index target
        if "sales" in self.depts:
            s = self.depts.index("sales")
            aes = np.unique(sp["emp"][self._spells(s, ("account_executive",))])
            if aes.size:
                senior = np.sort(rng.choice(aes, max(1, aes.size // 10), replace=False))
                for name in by_kind("closing_index"):
                    add(periods[:, None], s, name, 35, senior[None, :])
        self.period_labels = labels
        self.tg = chunks

    # ---- frames ------------------------------------------------------------------------
    def frames(self) -> dict[str, pl.DataFrame]:
        tz, ccy = self.plan.timezone, self.plan.currency
        sp = self.sp
        emp_ids = "E" + pl.Series(self.emp_num).cast(pl.String).str.zfill(5)

        # employees
        order = np.lexsort((sp["frm"], self.emp_num[sp["emp"]]))
        e = {k: v[order] for k, v in sp.items()}
        emp_df = pl.DataFrame({
            "employee_id": _gather(emp_ids, e["emp"]),
            "full_name": _gather(self.names, e["emp"]),
            "department": _gather(self.depts, e["dept"]),
            "role": _gather(self.role_names, e["role"]),
            "fte": e["fte"], "bonus_target": e["bonus"],
            "effective_from": e["frm"] + self.E0,
            "manager_id": _gather(emp_ids, e["mgr"]),
            "effective_to": _opt(np.where(e["to_written"] == _NULL, _NULL, e["to_written"] + self.E0)),
        }).with_columns(
            fte=_fixed_expr("fte", 1), bonus_target=_fixed_expr("bonus_target", 2), currency=pl.lit(ccy),
            effective_from=_date_expr("effective_from"), effective_to=_date_expr("effective_to"),
        )

        o = self.opp
        oo = o["order"]
        opp_df = pl.DataFrame({
            "opportunity_id": self.opp_num[oo], "customer_id": o["customer"][oo], "created_at": o["t0"][oo],
            "stage": _gather(["open", "won", "lost"], o["stage"][oo]), "amount": o["cents"][oo],
            "owner_employee_id": _gather(emp_ids, o["owner"][oo]),
            "source": _gather(list(SOURCES), o["source"][oo]), "closed_at": _opt(o["close_t"][oo]),
        }).with_columns(
            opportunity_id=_id_expr("opportunity_id", "O", 7), customer_id=_id_expr("customer_id", "C", 5),
            created_at=_ts_expr("created_at", tz), amount=_fixed_expr("amount", 2), currency=pl.lit(ccy),
            closed_at=_ts_expr("closed_at", tz),
        )

        a = self.act
        m = a["t"].size
        opp_num = np.where(a["opp"] >= 0, self.opp_num[np.maximum(a["opp"], 0)], -1)
        act_df = pl.DataFrame({
            "event_id": np.arange(1, m + 1), "occurred_at": a["t"],
            "employee_id": _gather(emp_ids, a["emp"]), "department": _gather(self.depts, a["dept"]),
            "activity_type": _gather(list(ACTIVITY_TYPES), a["typ"]),
            "customer_id": a["cust"], "opportunity_id": opp_num, "quantity": _opt(a["qty"]), "value": _opt(a["val"]),
        }).with_columns(
            event_id=_id_expr("event_id", "A", 9), occurred_at=_ts_expr("occurred_at", tz),
            customer_id=_id_expr("customer_id", "C", 5), opportunity_id=_id_expr("opportunity_id", "O", 7),
            quantity=pl.col("quantity").cast(pl.String),
            value=_fixed_expr("value", 2),
        )

        ms = self.meas
        meas_df = pl.DataFrame({
            "measurement_id": np.arange(1, ms["t"].size + 1), "measured_at": ms["t"],
            "department": _gather(self.depts, ms["dept"]), "metric": _gather(self.metric_names, ms["metric"]),
            "value": ms["val"], "employee_id": _gather(emp_ids, ms["emp"]),
        }).with_columns(
            measurement_id=_id_expr("measurement_id", "M", 7), measured_at=_ts_expr("measured_at", tz),
            value=_fixed_expr("value", 4),
        )

        f = self.fb
        fb_df = pl.DataFrame({
            "survey_id": np.arange(1, f["t"].size + 1), "customer_id": f["cust"], "responded_at": f["t"],
            "score": f["tenths"], "decimal": f["decimal"],
            "employee_id": _gather(emp_ids, f["emp"]), "department": _gather(self.depts, f["dept"]),
        }).with_columns(
            survey_id=_id_expr("survey_id", "S", 7), customer_id=_id_expr("customer_id", "C", 5),
            responded_at=_ts_expr("responded_at", tz),
            score=pl.when(pl.col("decimal")).then(_fixed_expr("score", 1))
            .otherwise((pl.col("score") // 10).cast(pl.String)),
        )

        tg = pl.concat([
            pl.DataFrame({"period": _gather(self.period_labels, p), "department": _gather(self.depts, d),
                          "metric": pl.Series([m] * len(p), dtype=pl.String), "target": c,
                          "employee_id": _gather(emp_ids, e)})
            for p, d, m, c, e in self.tg
        ]) if self.tg else pl.DataFrame(schema={"period": pl.String, "department": pl.String, "metric": pl.String,
                                                "target": pl.Int64, "employee_id": pl.String})
        # one row per key (an employee with two roster rows appears once): first wins
        tg_df = (tg.unique(["period", "department", "metric", "employee_id"], keep="first", maintain_order=True)
                 .with_columns(target=_fixed_expr("target", 2))
                 .sort(["period", "department", "metric", "employee_id"], nulls_last=False, maintain_order=True))

        out = {"employees": emp_df, "opportunities": opp_df, "activities": act_df,
               "measurements": meas_df, "feedback": fb_df, "targets": tg_df}
        return {k: v.select(DATASETS[k].column_names).cast(pl.String) for k, v in out.items()}


def _allocate(total: int, weights: np.ndarray, first_min: int = 0) -> np.ndarray:
    """Split ``total`` over ``weights`` by largest remainder (deterministic)."""
    if total <= 0:
        return np.zeros(len(weights), np.int64)
    w = np.asarray(weights, float) / np.sum(weights)
    raw = w * total
    out = np.floor(raw).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    if first_min and out[0] < first_min and total >= first_min:
        j = int(np.argmax(out))
        out[j] -= first_min - out[0]
        out[0] = first_min
    return out


def _round_to(x: float, step: float) -> float:
    return float(np.round(x / step) * step)


# ---------------------------------------------------------------------------
# Bad rows
# ---------------------------------------------------------------------------
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


def _add_bad_rows(rng: np.random.Generator, name: str, df: pl.DataFrame, frac: float,
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
                sub = sub.with_columns(value=_reformat(pl.col("value").cast(pl.Float64) * 0.97, 4))
            else:
                sub = sub.with_columns(_reformat(pl.col(num_col).cast(pl.Float64) * 1.1 + 1, 2).alias(num_col))
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
                filler = _reformat(pl.lit(1000.0) + pl.col("_r") * 50_000, 2)
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


def _reformat(expr: pl.Expr, scale: int) -> pl.Expr:
    """A float expression -> fixed decimal text with ``scale`` decimals (non-negative)."""
    unit = 10**scale
    i = (expr * unit).round(0).cast(pl.Int64)
    return pl.concat_str([(i // unit).cast(pl.String), pl.lit("."), (i % unit).cast(pl.String).str.zfill(scale)])


def _max_id_number(df: pl.DataFrame, col: str, prefix: str) -> int:
    s = df.get_column(col).drop_nulls().str.strip_prefix(prefix).cast(pl.Int64, strict=False)
    v = s.max()
    return int(v) if v is not None else 0
