"""The ``opportunities`` dataset and the activities that touch them."""

from __future__ import annotations

import numpy as np
import polars as pl

from orbit.synth.fmt import DAY, HOUR, NULL, fixed_expr, gather, id_expr, opt, ts_expr
from orbit.synth.model import Org
from orbit.synth.profile import SOURCE_P, SOURCE_WIN, SOURCES


def generate(org: Org) -> None:
    """Opportunities and every activity that touches one (handoffs, first contacts, referrals,
    meetings, other departments' touches, invoices)."""
    rng, D, sp = org.rng, org.D, org.sp
    n = max(1, round(org.n * org.months * 0.6))
    day = org.workday(np.zeros(n, np.int64), np.full(n, D - 1))
    t0 = org.S0 + day * DAY + org.tod(n, 8.5, 10.5, 17.5)
    source = rng.choice(len(SOURCES), n, p=SOURCE_P)
    sales = org.depts.index("sales") if "sales" in org.depts else 0
    sellers = org.spells(sales, ("account_executive", "sales_manager"))
    if sellers.size == 0:
        sellers = org.spells(sales)
    w = np.where(org.sp_is_mgr[sellers], 0.25, 1.0) * sp["fte"][sellers]
    owner_sp = org.pick(sellers, day, w)
    owner = sp["emp"][owner_sp]
    customer = org.customers(n)
    amt = np.clip(rng.lognormal(np.log(12000), 0.95, n), 1000, 200000)
    amt = np.where(rng.random(n) < 0.4, np.round(amt, -2), np.round(amt, 2))
    cents = np.round(amt * 100).astype(np.int64)

    # first touches
    mk = source == 0
    hand_t = t0 + rng.integers(0, 16, n) * 60
    has_fc = np.isin(source, [0, 1, 3])
    late = rng.random(n) < org.late[owner]
    delay = np.where(late, rng.uniform(25, 96, n) * HOUR,
                     np.clip(rng.exponential(4 * HOUR, n), 5 * 60, 23 * HOUR)).astype(np.int64) // 60 * 60
    fc_t = np.where(mk, hand_t, t0) + delay

    # decision timeline
    base = np.where(has_fc, np.maximum(t0, fc_t), t0)
    dur = np.ceil(np.clip(rng.lognormal(np.log(28), 0.6, n), 2, 120)).astype(np.int64)
    close_day = org.day_of(base) + dur
    close_t = org.S0 + close_day * DAY + org.tod(n, 9, 14, 18)
    closed = (close_t <= org.T_end) & (rng.random(n) >= 0.06)
    upper = np.where(closed, close_t, org.T_end)

    # the owner's last employed day caps the owner's own activities
    last_day = np.full(org.n, -1, np.int64)
    np.maximum.at(last_day, sp["emp"], sp["end"])
    owner_end_t = org.S0 + last_day[owner] * DAY + 23 * HOUR

    # cross-department touches decided up front (they move the win probability)
    p_win = SOURCE_WIN[source] * org.skill[owner]
    touches: list[tuple[int, np.ndarray]] = []
    for d, prof in enumerate(org.prof):
        if org.depts[d] in ("sales", "marketing"):
            continue
        if org.depts[d] == "finance":
            flag = (cents > 1_500_000) & (rng.random(n) < 0.7)
        else:
            flag = rng.random(n) < prof.touch_rate
        if not flag.any() and org.spells(d).size:
            flag[rng.integers(0, n)] = True  # every department touches at least one deal
        touches.append((d, flag))
        if org.depts[d] == "finance":
            fast = rng.random(n) < 0.6
            fin_fast = fast
            p_win = p_win * np.where(flag, np.where(fast, prof.win_lift, 0.75), 1.0)
        else:
            p_win = p_win * np.where(flag, prof.win_lift, 1.0)
    manager_meet = rng.random(n) < 0.15
    p_win = np.clip(p_win * np.where(manager_meet, 1.1, 1.0), 0.03, 0.85)
    won = closed & (rng.random(n) < p_win)
    stage = np.where(closed, np.where(won, 1, 2), 0)  # 0 open, 1 won, 2 lost

    opp = np.arange(n)
    # lead_handoff by a marketer, first_contact by the owner
    mkt = org.depts.index("marketing") if "marketing" in org.depts else -1
    if mkt >= 0:
        marketers = org.spells(mkt, ("marketing_specialist", "demand_generation"))
        if marketers.size == 0:
            marketers = org.spells(mkt)
        mi = np.flatnonzero(mk)
        msp = org.pick(marketers, day[mi], org.pace[sp["emp"][marketers]] * sp["fte"][marketers])
        org.add(hand_t[mi], msp, "lead_handoff", customer[mi], opp[mi], qty=np.ones(mi.size))
    fi = np.flatnonzero(has_fc & (fc_t <= upper) & (fc_t <= owner_end_t))
    org.add(fc_t[fi], owner_sp[fi], "first_contact", customer[fi], opp[fi])

    # referrals: somebody refers the lead before it is opened
    ri = np.flatnonzero(source == 1)
    if ri.size:
        rw = np.array([p.referral_weight for p in org.prof])
        rw = rw * np.array([org.spells(d).size > 0 for d in range(len(org.depts))])
        rdept = rng.choice(len(org.depts), ri.size, p=rw / rw.sum())
        rt = t0[ri] - rng.uniform(2 * HOUR, 5 * DAY, ri.size).astype(np.int64) // 60 * 60
        rt = np.clip(rt, org.S0 + 8 * HOUR, t0[ri] - 60)
        rsp = np.full(ri.size, -1)
        for d in np.unique(rdept):
            sel = np.flatnonzero(rdept == d)
            prof = org.prof[d]
            cand = org.spells(d, prof.touch_roles) if org.depts[d] == "logistics" else org.spells(d)
            rsp[sel] = org.pick(cand, org.day_of(rt[sel]))
        org.add(rt, rsp, "lead_referred", customer[ri], opp[ri], qty=np.ones(ri.size))

    # meetings by the owner (and sometimes the owner's manager)
    k = rng.poisson(1.3, n)
    mi = np.repeat(opp, k)
    lo = base[mi]
    hi = np.minimum(upper[mi], owner_end_t[mi])
    ok = hi > lo + 120
    mi, lo, hi = mi[ok], lo[ok], hi[ok]
    org.add(org.between(lo, hi), owner_sp[mi], "meeting_held", customer[mi], opp[mi])
    gi = np.flatnonzero(manager_meet & (upper > base + 120))
    mgr_slot = org.emp_manager[owner[gi]]
    gt = org.between(base[gi], upper[gi])
    has_mgr = mgr_slot >= 0
    gi, gt, mgr_slot = gi[has_mgr], gt[has_mgr], mgr_slot[has_mgr]
    mgr_sp = mgr_slot  # managers never change rows: their spell index is their slot
    org.add(gt, mgr_sp, "meeting_held", customer[gi], opp[gi])

    # the other departments' touches
    for d, flag in touches:
        prof = org.prof[d]
        ti = np.flatnonzero(flag & (upper > t0 + 120))
        if ti.size == 0:
            continue
        cand = org.spells(d, prof.touch_roles)
        if cand.size == 0:
            cand = org.spells(d)
        if org.depts[d] == "finance":
            back = rng.uniform(0.2, 4, ti.size) * DAY
            tt = np.clip((upper[ti] - back).astype(np.int64) // 60 * 60, t0[ti] + 60, upper[ti] - 60)
            fast = fin_fast[ti]
            hours = np.where(fast, rng.uniform(0.5, 8, ti.size), rng.uniform(48, 240, ti.size))
            value = np.round(hours * 100).astype(np.int64)
            org.add(tt, org.pick(cand, org.day_of(tt)), "credit_approved", customer[ti], opp[ti],
                    value=value)
            continue
        tt = org.between(t0[ti], upper[ti])
        qty = np.ones(ti.size) if prof.touch_type == "delivery_completed" else None
        org.add(tt, org.pick(cand, org.day_of(tt)), prof.touch_type, customer[ti], opp[ti], qty=qty)

    # invoices for won deals
    fin = org.depts.index("finance") if "finance" in org.depts else -1
    if fin >= 0:
        wi = np.flatnonzero(won)
        it = close_t[wi] + (rng.uniform(0.5, 6, wi.size) * DAY).astype(np.int64) // 60 * 60
        cand = org.spells(fin, ("accountant", "billing_clerk"))
        if cand.size == 0:
            cand = org.spells(fin)
        org.add(it, org.pick(cand, np.minimum(org.day_of(it), org.D - 1)), "invoice_issued",
                customer[wi], opp[wi], value=cents[wi])

    order = np.argsort(t0, kind="stable")
    org.opp_num = np.empty(n, np.int64)
    org.opp_num[order] = np.arange(1, n + 1)
    org.opp = dict(t0=t0, stage=stage, cents=cents, owner=owner, source=source, customer=customer,
                   close_t=np.where(closed, close_t, NULL), order=order)


def frame(org: Org, emp_ids: pl.Series) -> pl.DataFrame:
    """One row per opportunity, numbered in order of creation."""
    tz, ccy = org.plan.timezone, org.plan.currency
    o = org.opp
    oo = o["order"]
    opp_df = pl.DataFrame({
        "opportunity_id": org.opp_num[oo], "customer_id": o["customer"][oo], "created_at": o["t0"][oo],
        "stage": gather(["open", "won", "lost"], o["stage"][oo]), "amount": o["cents"][oo],
        "owner_employee_id": gather(emp_ids, o["owner"][oo]),
        "source": gather(list(SOURCES), o["source"][oo]), "closed_at": opt(o["close_t"][oo]),
    }).with_columns(
        opportunity_id=id_expr("opportunity_id", "O", 7), customer_id=id_expr("customer_id", "C", 5),
        created_at=ts_expr("created_at", tz), amount=fixed_expr("amount", 2), currency=pl.lit(ccy),
        closed_at=ts_expr("closed_at", tz),
    )
    return opp_df
