"""The ``feedback`` dataset: customer surveys."""

from __future__ import annotations

import numpy as np
import polars as pl

from orbit.synth.fmt import DAY, fixed_expr, gather, id_expr, ts_expr
from orbit.synth.model import Org
from orbit.synth.profile import TYPE_INDEX


def generate(org: Org) -> None:
    """Surveys after resolved tickets and deliveries, and some naming neither employee nor department."""
    rng, a = org.rng, org.act
    parts = []
    ticket = np.flatnonzero(a["typ"] == TYPE_INDEX["ticket_resolved"])
    ticket = ticket[rng.random(ticket.size) < 0.22]
    deliv = np.flatnonzero((a["typ"] == TYPE_INDEX["delivery_completed"]) & (a["cust"] >= 0))
    deliv = deliv[rng.random(deliv.size) < 0.004]
    for idx, p_dept_only in ((ticket, 0.12), (deliv, 0.35)):
        # answered 0-3 days later, in the customer's waking hours, never before the event
        day = (a["t"][idx] + rng.integers(0, 4, idx.size) * DAY) // DAY
        t = np.maximum(day * DAY + org.tod(idx.size, 7.0, 13.0, 22.0), a["t"][idx] + 30 * 60)
        emp = np.where(rng.random(idx.size) < p_dept_only, -1, a["emp"][idx])
        q = org.quality[a["emp"][idx]]
        parts.append((t, a["cust"][idx], emp, a["dept"][idx], q))
    n_neither = max(1, round(0.08 * sum(p[0].size for p in parts)))
    day = rng.integers(0, org.D, n_neither)
    parts.append((org.S0 + day * DAY + org.tod(n_neither, 7, 12, 22), org.customers(n_neither),
                  np.full(n_neither, -1), np.full(n_neither, -1), np.zeros(n_neither)))
    t, cust, emp, dept, q = (np.concatenate(c) for c in zip(*parts))
    keep = t <= org.T_end
    t, cust, emp, dept, q = t[keep], cust[keep], emp[keep], dept[keep], q[keep]
    raw = np.clip(rng.normal(8.2 + q, 1.3), 1, 10)
    decimal = rng.random(t.size) < 0.2
    tenths = np.where(decimal, np.round(raw * 10), np.round(raw) * 10).astype(np.int64)
    order = np.argsort(t, kind="stable")
    org.fb = dict(t=t[order], cust=cust[order], emp=emp[order], dept=dept[order],
                  tenths=tenths[order], decimal=decimal[order])


def frame(org: Org, emp_ids: pl.Series) -> pl.DataFrame:
    """One row per survey, numbered in time order."""
    tz = org.plan.timezone
    f = org.fb
    fb_df = pl.DataFrame({
        "survey_id": np.arange(1, f["t"].size + 1), "customer_id": f["cust"], "responded_at": f["t"],
        "score": f["tenths"], "decimal": f["decimal"],
        "employee_id": gather(emp_ids, f["emp"]), "department": gather(org.depts, f["dept"]),
    }).with_columns(
        survey_id=id_expr("survey_id", "S", 7), customer_id=id_expr("customer_id", "C", 5),
        responded_at=ts_expr("responded_at", tz),
        score=pl.when(pl.col("decimal")).then(fixed_expr("score", 1))
        .otherwise((pl.col("score") // 10).cast(pl.String)),
    )
    return fb_df
