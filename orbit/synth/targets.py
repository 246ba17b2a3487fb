"""The ``targets`` dataset: per-period targets that fit the generated organisation's scale."""

from __future__ import annotations

import numpy as np
import polars as pl

from orbit.synth.fmt import DAY, fixed_expr, gather
from orbit.synth.model import Org
from orbit.synth.profile import TYPE_INDEX


def generate(org: Org) -> None:
    """Targets per plan period for the metrics whose plan default does not fit the generated scale."""
    rng, sp, a, o, plan = org.rng, org.sp, org.act, org.opp, org.plan
    labels, day_p, p_start, p_end, cover = org.periods()
    P, nd = len(labels), len(org.depts)
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
    won_p = day_p[org.day_of(o["close_t"][won])]
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
    cp = day_p[org.day_of(o["close_t"][to])]
    contrib = np.bincount(cp * nd + a["dept"][ti], weights=credit, minlength=P * nd).reshape(P, nd)
    untouched = won[n_touch[won] == 0]
    if untouched.size and "sales" in org.depts:
        s = org.depts.index("sales")
        contrib[:, s] += np.bincount(day_p[org.day_of(o["close_t"][untouched])],
                                     weights=o["cents"][untouched] / 100, minlength=P)
    per_emp = contrib / head

    act_p = day_p[np.clip(org.day_of(a["t"]), 0, org.D - 1)]

    def counts(typ: str) -> np.ndarray:
        m = a["typ"] == TYPE_INDEX[typ]
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
    if "marketing" in org.depts:
        d = org.depts.index("marketing")
        mk_members = np.maximum(head[:, d] - len(org.dept_managers[d]), 1)
        for name in by_kind("prospecting_index"):
            v = 0.9 * ref(counts("lead_handoff")[:, d] / mk_members)
            add(periods, d, name, np.maximum(1, np.round(v * cover)) * 100)
    cs = org.depts.index("customer_service") if "customer_service" in org.depts else -1
    for name in by_kind("activity_count", ("ticket_resolved",)):
        if cs < 0:
            continue
        agents = org.spells(cs, ("support_agent",))
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
    if "sales" in org.depts:
        s = org.depts.index("sales")
        aes = np.unique(sp["emp"][org.spells(s, ("account_executive",))])
        if aes.size:
            senior = np.sort(rng.choice(aes, max(1, aes.size // 10), replace=False))
            for name in by_kind("closing_index"):
                add(periods[:, None], s, name, 35, senior[None, :])
    org.period_labels = labels
    org.tg = chunks


def frame(org: Org, emp_ids: pl.Series) -> pl.DataFrame:
    """One row per key (period, department, metric, employee_id), sorted."""
    tg = pl.concat([
        pl.DataFrame({"period": gather(org.period_labels, p), "department": gather(org.depts, d),
                      "metric": pl.Series([m] * len(p), dtype=pl.String), "target": c,
                      "employee_id": gather(emp_ids, e)})
        for p, d, m, c, e in org.tg
    ]) if org.tg else pl.DataFrame(schema={"period": pl.String, "department": pl.String, "metric": pl.String,
                                            "target": pl.Int64, "employee_id": pl.String})
    # one row per key (an employee with two roster rows appears once): first wins
    tg_df = (tg.unique(["period", "department", "metric", "employee_id"], keep="first", maintain_order=True)
             .with_columns(target=fixed_expr("target", 2))
             .sort(["period", "department", "metric", "employee_id"], nulls_last=False, maintain_order=True))
    return tg_df


def _round_to(x: float, step: float) -> float:
    return float(np.round(x / step) * step)

