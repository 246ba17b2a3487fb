"""The organisation model every dataset module fills in and reads.

One ``Org`` holds the window (``D`` days from ``ws`` to ``we``; days are offsets from ``ws``,
times are local wall-clock seconds since 1970), the plan, the single random generator and
the numpy state each dataset step leaves for the next. The steps run in a fixed order
(``orbit.synth.generator.generate_org``), because they draw from one generator: the roster
(``employees``), ``opportunities`` (which also queues the activities that touch a deal),
day-to-day ``activities``, ``measurements``, ``feedback`` (which follows activities) and
``targets`` (which reads all of them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from orbit.synth.fmt import DAY, HOUR, NULL
from orbit.synth.profile import PROFILES, TYPE_INDEX, Dept, generic_profile
from schemas.plan import Plan


class Org:
    """Holds the numpy state of one generated organisation (days are offsets from the window start)."""

    # set by employees.generate
    role_names: list[str]
    dept_managers: list[np.ndarray]
    dept_roles: list[np.ndarray]
    emp_num: np.ndarray  # employee number per slot (slot = index of the person)
    names: pl.Series
    skill: np.ndarray
    late: np.ndarray
    quality: np.ndarray
    pace: np.ndarray
    sp: dict[str, np.ndarray]  # roster rows ("spells"): emp, dept, role, fte, bonus, mgr, frm, to_written, start, end
    sp_is_mgr: np.ndarray
    emp_manager: np.ndarray
    # set by opportunities.generate
    opp_num: np.ndarray
    opp: dict[str, np.ndarray]
    # set by activities.finish
    act: dict[str, np.ndarray]
    # set by measurements.generate
    metric_names: list[str]
    meas: dict[str, np.ndarray]
    # set by feedback.generate
    fb: dict[str, np.ndarray]
    # set by targets.generate
    period_labels: list[str]
    tg: list[tuple[np.ndarray, np.ndarray, str, np.ndarray, np.ndarray]]

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
        self.prof: list[Dept] = [PROFILES.get(d) or generic_profile(d) for d in self.depts]
        weekday = (np.arange(self.D) + self.ws.weekday()) % 7
        self.cal: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, mask in (("5d", weekday < 5), ("6d", weekday < 6)):
            self.cal[name] = (np.flatnonzero(mask), np.concatenate([[0], np.cumsum(mask)]))
        # activity chunks: t, emp(slot), dept, type, customer, opp, qty, value(cents)
        self.activity_chunks: list[tuple[np.ndarray, ...]] = []

    # ---- time helpers ----------------------------------------------------
    def workday(self, start: np.ndarray, end: np.ndarray, cal: str = "5d") -> np.ndarray:
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

    def tod(self, size: int, lo: float, mode: float, hi: float) -> np.ndarray:
        """Time of day in seconds, whole minutes, triangular over hours."""
        return (self.rng.triangular(lo, mode, hi, size) * 60).astype(np.int64) * 60

    def between(self, lo: np.ndarray, hi: np.ndarray, f_lo: float = 0.05, f_hi: float = 0.95) -> np.ndarray:
        """A business-hours timestamp between lo and hi (seconds), clipped into (lo, hi)."""
        span = np.maximum(hi - lo, 0)
        raw = lo + (self.rng.uniform(f_lo, f_hi, lo.size) * span).astype(np.int64)
        day = raw // DAY
        t = day * DAY + self.tod(lo.size, 8.0, 11.0, 17.5)
        t = np.clip(t, lo + np.minimum(60, span // 2), hi - np.minimum(60, span // 2))
        return t

    def day_of(self, t: np.ndarray) -> np.ndarray:
        return (t - self.S0) // DAY

    # ---- roster spells and activity queue --------------------------------------
    def spells(self, dept: int, roles: tuple[str, ...] | None = None) -> np.ndarray:
        sp = self.sp
        m = sp["dept"] == dept
        if roles is not None:
            ids = [self.role_names.index(r) for r in roles if r in self.role_names]
            m &= np.isin(sp["role"], ids)
        return np.flatnonzero(m)

    def pick(self, cand: np.ndarray, days: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
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

    def add(self, t: np.ndarray, spell: np.ndarray, typ: str | np.ndarray, customer: Any = None,
            opp: Any = None, qty: Any = None, value: Any = None) -> None:
        """Queue activities done by the employees of ``spell`` (department = the spell's)."""
        keep = (spell >= 0) & (t <= self.T_end)
        k = int(keep.sum())

        def full(a: np.ndarray | None, fill: int) -> np.ndarray:
            return np.full(k, fill, np.int64) if a is None else np.asarray(a, np.int64)[keep]

        sp = spell[keep]
        self.activity_chunks.append((t[keep].astype(np.int64), self.sp["emp"][sp], self.sp["dept"][sp],
                                     np.full(k, TYPE_INDEX[typ]) if isinstance(typ, str) else np.asarray(typ)[keep],
                                     full(customer, -1), full(opp, -1), full(qty, NULL), full(value, NULL)))

    # ---- customers -----------------------------------------------------------
    def customers(self, size: int) -> np.ndarray:
        if not hasattr(self, "_cust_cdf"):
            self.n_cust = max(40, int(self.n * 1.5))
            w = 1.0 / (np.arange(self.n_cust) + 10.0) ** 0.9
            self._cust_cdf = np.cumsum(w) / w.sum()
            self._cust_perm = self.rng.permutation(self.n_cust)
        r = np.searchsorted(self._cust_cdf, self.rng.random(size), side="right")
        return self._cust_perm[np.minimum(r, self.n_cust - 1)]

    def month_bounds(self) -> list[tuple[int, int]]:
        out = []
        y, m = self.ws.year, self.ws.month
        for _ in range(self.months):
            first = dt.date(y, m, 1)
            y2, m2 = (y + 1, 1) if m == 12 else (y, m + 1)
            last = min(dt.date(y2, m2, 1) - dt.timedelta(days=1), self.we)
            out.append(((first - self.ws).days, (last - self.ws).days))
            y, m = y2, m2
        return out

    # ---- calendar -----------------------------------------------------------
    def periods(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
