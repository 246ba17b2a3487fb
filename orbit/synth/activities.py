"""The ``activities`` dataset: day-to-day work, plus the queue that opportunities also feed."""

from __future__ import annotations

import numpy as np
import polars as pl

from orbit.synth.fmt import DAY, NULL, fixed_expr, gather, id_expr, opt, ts_expr
from orbit.synth.model import Org
from orbit.synth.profile import ACTIVITY_TYPES, BULK, GENERIC_BULK_RATE, PROFILES, TRAINING_RATE


def generate(org: Org) -> None:
    """Day-to-day work per roster row: a Poisson number of events per workday of the row."""
    rng, sp = org.rng, org.sp
    rules: list[tuple[np.ndarray, str, float, str, bool, str, str]] = []
    for dept, roles, typ, rate, cal, cust, qty, val in BULK:
        if dept in org.depts:
            rules.append((org.spells(org.depts.index(dept), roles), typ, rate, cal, cust, qty, val))
    for d, name in enumerate(org.depts):
        if name not in PROFILES:
            rules.append((org.spells(d), "customer_call", GENERIC_BULK_RATE, "5d", True, "", ""))
    everyone = np.arange(sp["emp"].size)
    rules.append((everyone, "training_completed", TRAINING_RATE, "5d", False, "", ""))
    # spontaneous referrals (no opportunity yet)
    ref_rate = np.array([p.referral_rate for p in org.prof])[sp["dept"]]
    rules.append((everyone, "lead_referred", -1.0, "5d", True, "one", ""))
    for cand, typ, rate, cal, cust, qty, val in rules:
        if cand.size == 0:
            continue
        days, cum = org.cal[cal]
        wd = cum[sp["end"][cand] + 1] - cum[sp["start"][cand]]
        r = ref_rate[cand] if rate < 0 else rate
        k = rng.poisson(r * wd * sp["fte"][cand] / 10)
        spell = np.repeat(cand, k)
        m = spell.size
        if m == 0:
            continue
        day = org.workday(sp["start"][spell], sp["end"][spell], cal)
        if typ == "delivery_completed":
            t = org.S0 + day * DAY + org.tod(m, 6.5, 10.5, 18.5)
        else:
            t = org.S0 + day * DAY + org.tod(m, 8.0, 11.0, 18.0)
        customer = org.customers(m) if cust else None
        q = None
        if qty == "parcels":
            u = rng.random(m)
            q = np.where(u < 0.65, NULL, np.where(u < 0.9, 1, rng.integers(2, 7, m)))
        elif qty == "stops":
            q = rng.integers(8, 31, m)
        elif qty == "one":
            q = np.where(rng.random(m) < 0.5, 1, NULL)
        v = None
        if val == "invoice":
            v = np.round(np.clip(rng.lognormal(np.log(1800), 0.8, m), 50, 60000) * 100).astype(np.int64)
        elif val == "hours":
            v = np.round(rng.uniform(0.5, 72, m) * 100).astype(np.int64)
        org.add(t, spell, typ, customer, None, q, v)


def finish(org: Org) -> None:
    """All queued activities (opportunity touches and day-to-day work) in time order."""
    cols = list(zip(*org.activity_chunks))
    t, emp, dept, typ, cust, opp, qty, val = (np.concatenate(c) for c in cols)
    order = np.argsort(t, kind="stable")
    org.act = dict(t=t[order], emp=emp[order], dept=dept[order], typ=typ[order], cust=cust[order],
                   opp=opp[order], qty=qty[order], val=val[order])
    org.activity_chunks = []


def frame(org: Org, emp_ids: pl.Series) -> pl.DataFrame:
    """One row per activity, numbered in time order."""
    tz = org.plan.timezone
    a = org.act
    m = a["t"].size
    opp_num = np.where(a["opp"] >= 0, org.opp_num[np.maximum(a["opp"], 0)], -1)
    act_df = pl.DataFrame({
        "event_id": np.arange(1, m + 1), "occurred_at": a["t"],
        "employee_id": gather(emp_ids, a["emp"]), "department": gather(org.depts, a["dept"]),
        "activity_type": gather(list(ACTIVITY_TYPES), a["typ"]),
        "customer_id": a["cust"], "opportunity_id": opp_num, "quantity": opt(a["qty"]), "value": opt(a["val"]),
    }).with_columns(
        event_id=id_expr("event_id", "A", 9), occurred_at=ts_expr("occurred_at", tz),
        customer_id=id_expr("customer_id", "C", 5), opportunity_id=id_expr("opportunity_id", "O", 7),
        quantity=pl.col("quantity").cast(pl.String),
        value=fixed_expr("value", 2),
    )
    return act_df
