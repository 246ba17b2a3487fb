"""The ``employees`` dataset: the roster of the organisation model (rows of validity, "spells")."""

from __future__ import annotations

import numpy as np
import polars as pl

from orbit.synth.fmt import NULL, date_expr, fixed_expr, gather, opt
from orbit.synth.model import Org
from orbit.synth.profile import FIRST_NAMES, LAST_NAMES, Role


def generate(org: Org) -> None:
    """The roster: departments, roles, managers, people, joiners, leavers and second rows."""
    rng, n, D = org.rng, org.n, org.D
    nd = len(org.depts)
    shares = np.array([p.share for p in org.prof])
    floor_each = 2 if n >= 2 * nd else 1
    counts = allocate(n - floor_each * nd, shares) + floor_each
    role_names: list[str] = []
    role_index: dict[str, int] = {}
    role_bonus: list[tuple[int, int]] = []

    def rid(r: Role) -> int:
        if r.name not in role_index:
            role_index[r.name] = len(role_names)
            role_names.append(r.name)
            role_bonus.append(r.bonus)
        return role_index[r.name]

    for p in org.prof:
        rid(p.manager)
        for r in p.roles:
            rid(r)
    org.role_names = role_names
    role_bonus_arr = np.array(role_bonus)
    org.dept_managers: list[np.ndarray] = []
    org.dept_roles = [np.array([rid(r) for r in p.roles]) for p in org.prof]
    parts: list[tuple[np.ndarray, ...]] = []  # dept, role, is_mgr, manager
    start = 0
    for d, (p, c) in enumerate(zip(org.prof, counts)):
        n_mgr = max(1, round(c / (p.span + 1)))
        n_mgr = min(n_mgr, c - 1) if c >= 2 else 1
        members = c - n_mgr
        role_counts = allocate(members, np.array([r.weight for r in p.roles]), first_min=1)
        mgr_slots = np.arange(start, start + n_mgr)
        org.dept_managers.append(mgr_slots)
        mgr_boss = np.where(mgr_slots == start, -1, start)  # the first manager heads the department
        member_boss = mgr_slots[rng.integers(0, n_mgr, members)]
        parts.append((np.full(c, d), np.concatenate([np.full(n_mgr, rid(p.manager)),
                                                     np.repeat(org.dept_roles[d], role_counts)]),
                      np.arange(c) < n_mgr, np.concatenate([mgr_boss, member_boss])))
        start += c
    dept0, role0, is_mgr, manager0 = (np.concatenate(x) for x in zip(*parts))

    # person attributes
    org.emp_num = rng.permutation(n) + 1  # E-number per slot
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    org.names = pl.Series(FIRST_NAMES).gather(first) + " " + pl.Series(LAST_NAMES).gather(last)
    fte0 = np.where(is_mgr, 10, rng.choice([10, 8, 5], n, p=[0.85, 0.08, 0.07]))
    lo, hi = role_bonus_arr[role0, 0], role_bonus_arr[role0, 1]
    bonus0 = (lo + rng.random(n) * (hi - lo)).round(-2).astype(np.int64) * 100  # cents
    org.skill = np.clip(rng.lognormal(0, 0.25, n), 0.6, 1.6)  # sellers' win skill
    org.late = rng.beta(2, 11, n)  # sellers' share of late first contacts
    org.quality = rng.normal(0, 0.7, n)  # service quality (feedback)
    org.pace = rng.gamma(4, 0.25, n)  # marketers' lead volume weight

    # joiners, leavers, changers
    scale = org.months / 12
    u = rng.random(n)
    p_join, p_leave = min(0.10 * scale, 0.4), min(0.08 * scale, 0.4)
    joiner = ~is_mgr & (u < p_join)
    leaver = ~is_mgr & (u >= p_join) & (u < p_join + p_leave)
    changer = ~is_mgr & ~joiner & ~leaver & (rng.random(n) < 0.06) & (D >= 10)
    eff_from = np.where(joiner, rng.integers(0, D, n), -rng.integers(1, 3650, n))
    eff_to = np.where(leaver, rng.integers(0, D, n), NULL)

    # second rows: 0 fte change, 1 role change in the department, 2 transfer (never into/out of sales)
    margin = min(30, D // 4)
    cday = rng.integers(margin, max(margin + 1, D - margin), n)
    kind = rng.integers(0, 3, n)
    n_roles = np.array([r.size for r in org.dept_roles])
    sales = org.depts.index("sales") if "sales" in org.depts else -1
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
            roles = org.dept_roles[d]
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
            w = np.array([r.weight for r in org.prof[d].roles])
            cdf = np.cumsum(w) / w.sum()
            role1[m] = org.dept_roles[d][np.minimum(np.searchsorted(cdf, r_pick[m], side="right"),
                                                    w.size - 1)]
            mg = org.dept_managers[d]
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
    end0 = np.where(changer, cday - 1, np.where(eff_to != NULL, eff_to, D - 1))
    sp_to_written = np.concatenate([np.where(changer, np.where(write_to, cday - 1, NULL), eff_to),
                                    np.full(ch.size, NULL)])
    sp_end = np.concatenate([end0, np.full(ch.size, D - 1)])
    org.sp = dict(emp=sp_emp, dept=sp_dept, role=sp_role, fte=sp_fte, bonus=sp_bonus, mgr=sp_mgr,
                  frm=sp_from, to_written=sp_to_written,
                  start=np.clip(sp_from, 0, D - 1), end=np.minimum(sp_end, D - 1))
    org.sp_is_mgr = np.concatenate([is_mgr, is_mgr[ch]])
    org.emp_manager = manager0


def employee_ids(org: Org) -> pl.Series:
    """'E00042' per employee slot."""
    return "E" + pl.Series(org.emp_num).cast(pl.String).str.zfill(5)


def frame(org: Org, emp_ids: pl.Series) -> pl.DataFrame:
    """One row per roster row, ordered by employee id then effective_from."""
    ccy = org.plan.currency
    sp = org.sp
    order = np.lexsort((sp["frm"], org.emp_num[sp["emp"]]))
    e = {k: v[order] for k, v in sp.items()}
    emp_df = pl.DataFrame({
        "employee_id": gather(emp_ids, e["emp"]),
        "full_name": gather(org.names, e["emp"]),
        "department": gather(org.depts, e["dept"]),
        "role": gather(org.role_names, e["role"]),
        "fte": e["fte"], "bonus_target": e["bonus"],
        "effective_from": e["frm"] + org.E0,
        "manager_id": gather(emp_ids, e["mgr"]),
        "effective_to": opt(np.where(e["to_written"] == NULL, NULL, e["to_written"] + org.E0)),
    }).with_columns(
        fte=fixed_expr("fte", 1), bonus_target=fixed_expr("bonus_target", 2), currency=pl.lit(ccy),
        effective_from=date_expr("effective_from"), effective_to=date_expr("effective_to"),
    )
    return emp_df


def allocate(total: int, weights: np.ndarray, first_min: int = 0) -> np.ndarray:
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
