"""Benchmark: Orbit's attribution engine against three PyPI peers.

Peers (installed only in ``benchmarks/.venv-peers``, see requirements-peers.txt):

* ``marketing-attribution-models`` (DP6, import ``mam``): last/first/linear/
  position_based/time_decay, Markov, Shapley (polars).
* ``ChannelAttribution`` (C++ core): first/last/linear heuristics, simulated Markov.
* ``do-attribution``: closed-form Markov (``redirect_to_null``), exact Shapley.

The same script plays two roles:

* driver (run with Orbit's ``.venv/bin/python``): generates the journeys
  deterministically, runs Orbit's models in-process through
  ``transforms.attribution.attribute_credits``, and starts one worker
  subprocess per (peer, model, case) with the peers venv's python;
* worker (``--worker``, run with the peers venv's python): loads the journeys,
  converts them to the peer's input format, runs one model, and prints JSON.
  Import time ("startup"), format conversion ("prep") and the peer's own work
  ("run") are timed apart; only "run" is compared with Orbit.

Usage::

    .venv/bin/python benchmarks/attribution_peers.py \
        --peer-python benchmarks/.venv-peers/bin/python [--sizes 10000,100000,1000000] [--departments 9,15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

ORBIT_MODELS = ("last_touch", "first_touch", "linear", "position_based", "time_decay", "shapley", "markov")
HEURISTIC_EXACT = ("last_touch", "first_touch", "linear", "position_based")
HALF_LIFE_DAYS = 14
LOOKBACK_DAYS = 120
MAX_TOUCHES = 8  # with amounts multiple of 42.00, every heuristic split is exact in cents (lcm(1..8)=840; 0.2/(n-2) needs /300)
AMOUNT_UNIT_CENTS = 4200

# Which models each peer implements (peer model name per Orbit model).
PEER_MODELS = {
    "dp6": {
        "last_touch": "last_click",
        "first_touch": "first_click",
        "linear": "linear",
        "position_based": "position_based",
        "time_decay": "time_decay",
        "shapley": "shapley",
        "markov": "markov",
    },
    "channelattribution": {
        "last_touch": "heuristic_models",
        "first_touch": "heuristic_models",
        "linear": "heuristic_models",
        "markov": "markov_model",
    },
    "do_attribution": {"shapley": "ShapleyAttribution", "markov": "MarkovAttribution"},
}
PEERS = tuple(PEER_MODELS)
PEER_LABEL = {"dp6": "DP6 mam", "channelattribution": "ChannelAttribution", "do_attribution": "do-attribution"}

DEPARTMENTS_15 = (
    "marketing",
    "sales",
    "presales",
    "customer_success",
    "product",
    "finance",
    "legal",
    "support",
    "partnerships",
    "engineering",
    "operations",
    "hr",
    "procurement",
    "data",
    "executive",
)


# ---------------------------------------------------------------------------
# Deterministic synthetic journeys (numpy + polars: available in both venvs)
# ---------------------------------------------------------------------------
def generate(n_journeys: int, n_departments: int, seed: int = 20260701):
    """Touch-level frame: one row per touch, touches of a journey in time order.

    Columns: opportunity_id, event_id, employee_id, department, occurred_at,
    closed_at, won (bool), amount_cents (multiple of 4200), touch_idx.
    Each employee belongs to exactly one department (20 per department), so
    Orbit's employee-level credits add up to department credits unambiguously.
    """
    import numpy as np
    import polars as pl

    rng = np.random.default_rng([seed, n_journeys, n_departments])
    depts = np.array(DEPARTMENTS_15[:n_departments])
    # department popularity (skewed) and effect on the win probability
    pop = rng.dirichlet(np.full(n_departments, 1.5))
    effect = rng.normal(0.0, 0.6, n_departments)
    effect[0] = 0.8  # marketing helps
    effect[1] = 1.0  # sales helps more
    # journey lengths 1..MAX_TOUCHES (geometric-ish, mean ~3)
    lengths = np.minimum(rng.geometric(0.33, n_journeys), MAX_TOUCHES).astype(np.int64)
    n_touch = int(lengths.sum())
    jid = np.repeat(np.arange(n_journeys, dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(n_touch, dtype=np.int64) - np.repeat(starts, lengths)
    # departments: popularity draw, with a 35% chance to repeat the previous touch's department
    d = rng.choice(n_departments, size=n_touch, p=pop)
    repeat = (rng.random(n_touch) < 0.35) & (pos > 0)
    # resolve repeats left to right (vectorised: carry the last non-repeat index forward)
    src = np.where(repeat, -1, np.arange(n_touch))
    src = np.maximum.accumulate(src)
    d = d[src]
    emp_local = rng.integers(0, 20, n_touch)
    employee = np.char.add(np.char.add("e", np.char.zfill(d.astype(str), 2)), np.char.zfill(emp_local.astype(str), 3))
    # win probability from the set of departments present
    present = np.zeros((n_journeys, n_departments), dtype=bool)
    present[jid, d] = True
    logit = -1.6 + present.astype(float) @ effect
    won = rng.random(n_journeys) < 1.0 / (1.0 + np.exp(-logit))
    amount_cents = rng.integers(1, 501, n_journeys) * AMOUNT_UNIT_CENTS
    # timestamps: close within 2026-01..2026-06; touch ages distinct seconds within 90 days, ascending in time
    base = np.datetime64("2026-01-01T00:00:00", "s")
    close = base + rng.integers(0, 180 * 86400, n_journeys).astype("timedelta64[s]")
    age = rng.integers(0, 90 * 86400 - MAX_TOUCHES, n_touch)
    # sort ages descending within a journey, then add (len - 1 - pos) so they are strictly decreasing
    order = np.lexsort((-age, jid))
    age = age[order] + (np.repeat(lengths, lengths) - 1 - pos)
    occurred = np.repeat(close, lengths) - age.astype("timedelta64[s]")
    opp = np.char.add("o", np.char.zfill(np.arange(n_journeys).astype(str), 7))
    return pl.DataFrame(
        {
            "opportunity_id": opp[jid],
            "event_id": np.char.add("a", np.char.zfill(np.arange(n_touch).astype(str), 8)),
            "employee_id": employee,
            "department": depts[d],
            "occurred_at": occurred.astype("datetime64[us]"),
            "closed_at": np.repeat(close, lengths).astype("datetime64[us]"),
            "won": np.repeat(won, lengths),
            "amount_cents": np.repeat(amount_cents, lengths),
            "touch_idx": pos,
        }
    ).with_columns(pl.col("occurred_at").dt.replace_time_zone("UTC"), pl.col("closed_at").dt.replace_time_zone("UTC"))


# ---------------------------------------------------------------------------
# Orbit (driver side)
# ---------------------------------------------------------------------------
def orbit_frames(journeys):
    """Opportunities and activities in Orbit's documented shape."""
    import polars as pl

    opps = (
        journeys.group_by("opportunity_id", maintain_order=True)
        .agg(
            pl.col("won").first(),
            pl.col("amount_cents").first(),
            pl.col("closed_at").first(),
            pl.col("employee_id").first().alias("owner_employee_id"),
        )
        .select(
            "opportunity_id",
            stage=pl.when(pl.col("won")).then(pl.lit("won")).otherwise(pl.lit("lost")),
            amount=(pl.col("amount_cents").cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(18, 2)),
            closed_at="closed_at",
            owner_employee_id="owner_employee_id",
        )
    )
    activities = journeys.select("event_id", "employee_id", "department", "occurred_at", "opportunity_id")
    return opps, activities


def run_orbit(journeys, models):
    import polars as pl

    sys.path.insert(0, str(REPO))
    from transforms.attribution import attribute_credits, build_touches

    opps, acts = orbit_frames(journeys)
    t0 = time.perf_counter()
    touches = build_touches(opps, acts, LOOKBACK_DAYS)
    build_s = time.perf_counter() - t0
    assert touches.height == journeys.height, "every generated touch is inside the lookback"
    out = {"build_touches_s": build_s, "models": {}}
    for model in models:
        t0 = time.perf_counter()
        credits, values = attribute_credits(
            opps, touches, model=model, half_life_days=HALF_LIFE_DAYS
        )
        elapsed = time.perf_counter() - t0
        per_dept = credits.group_by("department").agg(
            cents=(pl.col("credit").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64).sum()
        )
        out["models"][model] = {
            "run_s": elapsed,
            "dept_cents": {d: int(c) for d, c in per_dept.rows()},
            "dept_values": {d: float(v) for d, _m, v in values.rows()},
        }
    return out


# ---------------------------------------------------------------------------
# Peers (worker side, peers venv)
# ---------------------------------------------------------------------------
def _journey_paths(pl, touches, sep):
    return (
        touches.sort("opportunity_id", "touch_idx")
        .group_by("opportunity_id", maintain_order=True)
        .agg(
            path=pl.col("department").str.join(sep),
            won=pl.col("won").first(),
            amount=(pl.col("amount_cents").first() / 100.0),
        )
    )


def worker(peer: str, model: str, data: str) -> dict:
    t0 = time.perf_counter()
    import polars as pl

    if peer == "dp6":
        import mam  # noqa: F401
        from mam import MAM
    elif peer == "channelattribution":
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            import ChannelAttribution as ca
        import pandas as pd  # noqa: F401
    elif peer == "do_attribution":
        import warnings

        import do_attribution as da

        warnings.simplefilter("ignore")
    else:
        raise SystemExit(f"unknown peer {peer}")
    startup = time.perf_counter() - t0
    touches = pl.read_parquet(data)
    res = {"peer": peer, "model": model, "startup_s": startup}

    if peer == "dp6":
        t0 = time.perf_counter()
        # "session" format: one row per touch; the journey's value on its last touch only
        sessions = touches.select(
            "opportunity_id",
            "occurred_at",
            "department",
            converted="won",
            value=pl.when(pl.col("won") & (pl.col("touch_idx") == pl.col("touch_idx").max().over("opportunity_id")))
            .then(pl.col("amount_cents") / 100.0)
            .otherwise(0.0),
        )
        res["prep_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = MAM(
            sessions,
            format_type="session",
            channels_colname="department",
            journey_with_conv_colname="converted",
            datetime_colname="occurred_at",
            user_id_colname="opportunity_id",
            conversion_value_colname="value",
        )
        name = PEER_MODELS["dp6"][model]
        if name == "time_decay":
            r = m.run_time_decay(half_life_hours=HALF_LIFE_DAYS * 24.0)
        elif name == "shapley":
            # max_size=None: the full set of a journey's departments (the default 4 would truncate)
            r = m.run_shapley(max_size=None, value_column="conv_rate")
        elif name == "markov":
            r = m.run_markov(transition_to_same_state=False)
        else:
            r = getattr(m, f"run_{name}")()
        agg = r.to_polars()
        res["run_s"] = time.perf_counter() - t0
        res["dept_amount"] = {str(c): float(v) for c, v in agg.select("channels", "attribution").rows()}
        if name == "markov":
            re = r.metadata["removal_effect"]
            res["dept_values"] = {str(k): float(v) for k, v in re["removal_effect"].items()}
        return res

    sep = ">" if peer == "channelattribution" else " > "
    t0 = time.perf_counter()
    paths = _journey_paths(pl, touches, sep)
    if peer == "channelattribution":
        data_pd = (
            paths.group_by("path")
            .agg(
                total_conversions=pl.col("won").cast(pl.Int64).sum(),
                total_conversion_value=pl.when(pl.col("won")).then(pl.col("amount")).otherwise(0.0).sum(),
                total_null=(~pl.col("won")).cast(pl.Int64).sum(),
            )
            .sort("path")
            .to_pandas()
        )
        res["prep_s"] = time.perf_counter() - t0
        res["unique_paths"] = len(data_pd)
        import contextlib
        import io

        buf = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            if model == "markov":
                out = ca.markov_model(
                    data_pd,
                    "path",
                    "total_conversions",
                    var_value="total_conversion_value",
                    var_null="total_null",
                    out_more=True,
                    verbose=False,
                    flg_pro=False,
                    seed=0,
                )
            else:
                out = ca.heuristic_models(
                    data_pd, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
                )
        res["run_s"] = time.perf_counter() - t0
        if model == "markov":
            result, removal = out["result"], out["removal_effects"]
            res["dept_amount"] = dict(zip(result["channel_name"], map(float, result["total_conversion_value"])))
            res["dept_values"] = dict(
                zip(removal["channel_name"], map(float, removal["removal_effects_conversion"]))
            )
        else:
            col = {"last_touch": "last_touch_value", "first_touch": "first_touch_value", "linear": "linear_touch_value"}[
                model
            ]
            res["dept_amount"] = dict(zip(out["channel_name"], map(float, out[col])))
        return res

    # do-attribution: one path string and a 0/1 flag per journey (its documented input)
    path_list = paths["path"].to_list()
    conv = paths["won"].cast(pl.Int64).to_list()
    total_won = float(paths.filter(pl.col("won"))["amount"].sum())
    res["prep_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if model == "markov":
        out = da.MarkovAttribution(order=1, removal_strategy="redirect_to_null").fit(path_list, conv)
        values = out["removal_effects"]
    else:
        out = da.ShapleyAttribution().fit(path_list, conv)
        values = out["shapley_values"]
        res["normalization_status"] = out.get("normalization_status")
        res["normalization_reason"] = out.get("normalization_reason")
    res["run_s"] = time.perf_counter() - t0
    res["dept_values"] = {str(k): float(v) for k, v in values.items()}
    shares = out.get("attribution")
    if shares is not None:
        # the library only gives shares: its attributed value is share x total won amount
        res["dept_amount"] = {str(k): float(v) * total_won for k, v in shares.items()}
    return res


def run_peer(peer_python: str, peer: str, model: str, data: Path, timeout: int) -> dict:
    cmd = [peer_python, str(Path(__file__).resolve()), "--worker", peer, model, str(data)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        return {"peer": peer, "model": model, "timeout": True, "wall_s": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"peer": peer, "model": model, "error": proc.stderr.strip().splitlines()[-1:] or ["?"], "wall_s": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    if res.get("run_s", 0) > timeout:
        res["timeout"] = True
    return res


# ---------------------------------------------------------------------------
# Comparison and report
# ---------------------------------------------------------------------------
def _shares(d: dict) -> dict:
    tot = sum(max(v, 0.0) for v in d.values())
    return {k: (max(v, 0.0) / tot if tot else 0.0) for k, v in d.items()}


def _spearman(a: dict, b: dict) -> float:
    keys = sorted(set(a) | set(b))
    if len(keys) < 2:
        return float("nan")

    def ranks(d):
        vals = [d.get(k, 0.0) for k in keys]
        order = sorted(range(len(vals)), key=lambda i: vals[i])
        r = [0.0] * len(vals)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and vals[order[j + 1]] == vals[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else float("nan")


def compare(model: str, orbit: dict, peer: dict) -> dict:
    """Department-level comparison of one peer result with Orbit's."""
    if peer.get("timeout"):
        return {"summary": "timeout"}
    if "error" in peer:
        return {"summary": "error: " + " ".join(peer["error"])}
    oc = orbit["dept_cents"]
    out: dict = {}
    if "dept_amount" in peer:
        pc = {d: round(v * 100) for d, v in peer["dept_amount"].items()}
        depts = sorted((set(oc) | set(pc)) - {d for d in set(oc) | set(pc) if oc.get(d, 0) == 0 and pc.get(d, 0) == 0})
        diffs = {d: pc.get(d, 0) - oc.get(d, 0) for d in depts}
        max_abs = max((abs(v) for v in diffs.values()), default=0)
        total = sum(oc.values()) or 1
        o_sh = {d: oc.get(d, 0) / total for d in depts}
        ptotal = sum(pc.values()) or 1
        p_sh = {d: pc.get(d, 0) / ptotal for d in depts}
        out["exact"] = max_abs == 0
        out["max_abs_cents"] = max_abs
        out["max_share_pp"] = 100 * max(abs(o_sh[d] - p_sh[d]) for d in depts) if depts else 0.0
        out["spearman_amount"] = _spearman(o_sh, p_sh)
    if "dept_values" in peer and model in ("markov", "shapley"):
        ov = orbit["dept_values"]
        pv = peer["dept_values"]
        out["max_abs_value"] = max(abs(ov.get(d, 0.0) - pv.get(d, 0.0)) for d in set(ov) | set(pv))
        out["spearman_value"] = _spearman(ov, pv)
        out["max_value_share_pp"] = 100 * max(
            abs(_shares(ov).get(d, 0.0) - _shares(pv).get(d, 0.0)) for d in set(ov) | set(pv)
        )
    if model in HEURISTIC_EXACT:
        out["summary"] = "agree (exact)" if out.get("exact") else f"DISAGREE (max {out.get('max_abs_cents')} ¢)"
    elif model == "time_decay":
        out["summary"] = f"max Δ {out['max_abs_cents']} ¢ (rounding)"
    elif model == "markov":
        s = f"RE Δ {out['max_abs_value']:.1e}"
        if "max_share_pp" in out:
            s += f", amount Δ {out['max_share_pp']:.2f} pp"
        out["summary"] = s
    else:
        if "spearman_value" in out:
            s = f"φ rank ρ {out['spearman_value']:.2f}"
        else:
            s = f"amount rank ρ {out['spearman_amount']:.2f}"
        if "max_share_pp" in out:
            s += f", amount Δ {out['max_share_pp']:.1f} pp"
        else:
            s += f", shares unavailable ({peer.get('normalization_reason')})"
        out["summary"] = s
    return out


def fmt_s(res: dict | None, timeout: int) -> str:
    if res is None:
        return "n/a"
    if res.get("timeout"):
        return f">{timeout} s"
    if "error" in res:
        return "error"
    return f"{res['run_s']:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=3, metavar=("PEER", "MODEL", "DATA"))
    ap.add_argument("--peer-python", default=str(HERE / ".venv-peers" / "bin" / "python"))
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--departments", default="9,15")
    ap.add_argument("--models", default=",".join(ORBIT_MODELS))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--json-out", default=str(HERE / "results" / "attribution_peers.json"))
    ap.add_argument("--from-json", metavar="FILE", help="re-print the report of an earlier run, run nothing")
    args = ap.parse_args()

    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        names = [p for p in PEERS if any(p in r["peers"] for c in saved["cases"] for r in c["models"].values())]
        print(report(saved["cases"], names, args.timeout, saved["total_s"]))
        print()
        print(details(saved["cases"]))
        return

    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return

    import polars as pl  # noqa: F401

    sizes = [int(s) for s in args.sizes.split(",")]
    dept_counts = [int(s) for s in args.departments.split(",")]
    models = [m for m in args.models.split(",") if m]
    peers = [p for p in args.peers.split(",") if p]
    have_peers = Path(args.peer_python).exists()
    if not have_peers:
        print(f"peers python {args.peer_python} not found: running Orbit only", file=sys.stderr)
    results = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="orbit-bench-") as tmp:
        for n in sizes:
            for nd in dept_counts:
                t0 = time.perf_counter()
                journeys = generate(n, nd)
                gen_s = time.perf_counter() - t0
                data = Path(tmp) / f"journeys_{n}_{nd}.parquet"
                journeys.write_parquet(data)
                won = journeys.group_by("opportunity_id").agg(pl.col("won").first())["won"].sum()
                print(
                    f"# case {n} journeys x {nd} departments: {journeys.height} touches, {won} won "
                    f"(generated in {gen_s:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                orbit = run_orbit(journeys, models)
                case = {
                    "journeys": n,
                    "departments": nd,
                    "touches": journeys.height,
                    "won": int(won),
                    "build_touches_s": orbit["build_touches_s"],
                    "models": {},
                }
                for model in models:
                    o = orbit["models"][model]
                    row = {"orbit": o, "peers": {}, "compare": {}}
                    print(f"  orbit {model:15s} {o['run_s']:8.2f} s", file=sys.stderr, flush=True)
                    for peer in peers:
                        if model not in PEER_MODELS[peer] or not have_peers:
                            continue
                        p = run_peer(args.peer_python, peer, model, data, args.timeout)
                        row["peers"][peer] = p
                        row["compare"][peer] = compare(model, o, p)
                        print(
                            f"  {peer:18s} {model:15s} {fmt_s(p, args.timeout):>10s}  {row['compare'][peer]['summary']}",
                            file=sys.stderr,
                            flush=True,
                        )
                    case["models"][model] = row
                results.append(case)
    total_s = time.perf_counter() - t_start
    out_path = Path(args.json_out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"total_s": total_s, "cases": results}, indent=1, default=str))
    print(report(results, peers, args.timeout, total_s))
    print()
    print(details(results))


def report(results: list, peers: list, timeout: int, total_s: float) -> str:
    lines = [
        "| journeys | depts | model | Orbit | " + " | ".join(PEER_LABEL[p] for p in peers) + " | fastest peer / Orbit | agreement (dept level) |",
        "|---:|---:|---|---:|" + "---:|" * len(peers) + "---:|---|",
    ]
    for case in results:
        for model, row in case["models"].items():
            o = row["orbit"]["run_s"]
            cells = []
            best = None
            for p in peers:
                r = row["peers"].get(p)
                cells.append(fmt_s(r, timeout))
                if r and not r.get("timeout") and "error" not in r:
                    best = r["run_s"] if best is None else min(best, r["run_s"])
            ratio = f"{best / o:.2f}×" if best is not None else "n/a"
            agree = "; ".join(
                f"{PEER_LABEL[p]}: {c['summary']}" for p, c in row["compare"].items()
            ) or "—"
            lines.append(
                f"| {case['journeys']:,} | {case['departments']} | {model} | {o:.2f} s | "
                + " | ".join(cells)
                + f" | {ratio} | {agree} |"
            )
    startup = {}
    prep = {}
    for case in results:
        for row in case["models"].values():
            for p, r in row["peers"].items():
                if "startup_s" in r:
                    startup.setdefault(p, []).append(r["startup_s"])
    lines.append("")
    lines.append(
        "Peer start-up (imports, excluded from the times above): "
        + ", ".join(f"{PEER_LABEL[p]} {min(v):.2f}–{max(v):.2f} s" for p, v in startup.items())
    )
    for case in results:
        for p in peers:
            ps = [r.get("prep_s") for row in case["models"].values() for q, r in row["peers"].items() if q == p and r.get("prep_s") is not None]
            if ps:
                prep.setdefault(p, []).append(f"{case['journeys']:,}/{case['departments']}: {max(ps):.2f} s")
    lines.append(
        "Input conversion to the peer's format (excluded): "
        + "; ".join(f"{PEER_LABEL[p]} " + ", ".join(v) for p, v in prep.items())
    )
    lines.append(
        "Orbit build_touches (join of activities to opportunities, excluded, shared by all models): "
        + ", ".join(f"{c['journeys']:,}/{c['departments']}: {c['build_touches_s']:.2f} s" for c in results)
    )
    lines.append(f"Total benchmark wall time: {total_s / 60:.1f} min")
    return "\n".join(lines)


def details(results: list) -> str:
    """Department values and amount shares of the game models, for the largest case of each department count."""
    lines = []
    largest = {}
    for case in results:
        if case["journeys"] >= largest.get(case["departments"], {"journeys": -1})["journeys"]:
            largest[case["departments"]] = case
    for nd, case in sorted(largest.items()):
        for model in ("shapley", "markov"):
            row = case["models"].get(model)
            if row is None:
                continue
            o = row["orbit"]
            oc = o["dept_cents"]
            tot = sum(oc.values()) or 1
            peers = list(row["peers"])
            lines.append(f"{model}, {case['journeys']:,} journeys x {nd} departments "
                         "(value = Shapley value / removal effect; share = share of the credited amount)")
            lines.append("")
            lines.append("| department | Orbit value | Orbit share | "
                         + " | ".join(f"{PEER_LABEL[p]} value | {PEER_LABEL[p]} share" for p in peers) + " |")
            lines.append("|---|" + "---:|" * (2 + 2 * len(peers)))
            for dpt in sorted(o["dept_values"], key=lambda k: -o["dept_values"][k]):
                cells = [f"{o['dept_values'][dpt]:.4f}", f"{100 * oc.get(dpt, 0) / tot:.1f}%"]
                for p in peers:
                    r = row["peers"][p]
                    v = r.get("dept_values", {}).get(dpt)
                    a = r.get("dept_amount")
                    cells.append("—" if v is None else f"{v:.4f}")
                    cells.append("—" if not a else f"{100 * a.get(dpt, 0.0) / (sum(a.values()) or 1):.1f}%")
                lines.append(f"| {dpt} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
