"""The ``measurements`` dataset: monthly KPI readings."""

from __future__ import annotations

import numpy as np
import polars as pl

from orbit.synth.fmt import DAY, fixed_expr, gather, id_expr, ts_expr
from orbit.synth.model import Org


def generate(org: Org) -> None:
    """Monthly KPI readings per employee, and team figures per department."""
    rng, sp, n = org.rng, org.sp, org.n
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
    org.metric_names = metric_names
    month_bounds = org.month_bounds()
    T, DEP, MET, VAL, EMP = [], [], [], [], []
    for dept, roles, metric in per_emp:
        if dept not in org.depts:
            continue
        cand = org.spells(org.depts.index(dept), roles)
        for ms, me in month_bounds:
            c = cand[(sp["start"][cand] <= me) & (sp["end"][cand] >= ms)]
            if c.size == 0:
                continue
            md = np.minimum(me, sp["end"][c])
            sd, lo, hi = noise[metric]
            v = np.clip(base[metric][sp["emp"][c]] + rng.normal(0, sd, c.size), lo, hi)
            T.append(org.S0 + md * DAY + org.tod(c.size, 16.0, 18.0, 20.0))
            DEP.append(sp["dept"][c])
            MET.append(np.full(c.size, mid[metric]))
            VAL.append(np.round(v * 10_000).astype(np.int64))
            EMP.append(sp["emp"][c])
    for dept, metric in team:
        if dept not in org.depts:
            continue
        d = org.depts.index(dept)
        m = len(month_bounds)
        me = np.array([b[1] for b in month_bounds])
        if metric == "system_uptime":
            v = 0.990 + 0.0099 * rng.beta(5, 1.2, m)
        elif metric == "on_time_delivery":
            v = np.clip(rng.normal(0.935, 0.015, m), 0.85, 0.995)
        else:
            v = np.clip(rng.normal(0.88, 0.04, m), 0.7, 1.0)
        T.append(org.S0 + me * DAY + org.tod(m, 19.0, 20.0, 21.0))
        DEP.append(np.full(m, d))
        MET.append(np.full(m, mid[metric]))
        VAL.append(np.round(v * 10_000).astype(np.int64))
        EMP.append(np.full(m, -1))
    t = np.concatenate(T)
    order = np.argsort(t, kind="stable")
    org.meas = dict(t=t[order], dept=np.concatenate(DEP)[order], metric=np.concatenate(MET)[order],
                    val=np.concatenate(VAL)[order], emp=np.concatenate(EMP)[order])


def frame(org: Org, emp_ids: pl.Series) -> pl.DataFrame:
    """One row per reading, numbered in time order."""
    tz = org.plan.timezone
    ms = org.meas
    meas_df = pl.DataFrame({
        "measurement_id": np.arange(1, ms["t"].size + 1), "measured_at": ms["t"],
        "department": gather(org.depts, ms["dept"]), "metric": gather(org.metric_names, ms["metric"]),
        "value": ms["val"], "employee_id": gather(emp_ids, ms["emp"]),
    }).with_columns(
        measurement_id=id_expr("measurement_id", "M", 7), measured_at=ts_expr("measured_at", tz),
        value=fixed_expr("value", 4),
    )
    return meas_df
