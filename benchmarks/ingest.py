"""Ingest benchmark: `orbit ingest` of a ~5,000,000-row activities CSV against the physical limit.

The limit is DuckDB's bare `CREATE TABLE AS SELECT * FROM read_csv(...)` of the same file,
on the same machine, in the same run (measured before and after Orbit's work; the mean is
the limit). Reported: the work (hash, read, cast, validate, de-duplicate, load — timed
in-process without Prefect, wall and CPU seconds), the whole command's wall time, the flow's
own time (from Prefect's database) and the peak RSS of the command's whole process tree, and
the ratios to the limit. CPU seconds matter on a shared machine: wall ratios move with the
other jobs, CPU ratios much less.

    make bench-ingest            # or: .venv/bin/python benchmarks/ingest.py --employees 12500
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _limit(csv: Path, workdir: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of DuckDB's bare read of ``csv`` into a table."""
    db = workdir / "limit.duckdb"
    con = duckdb.connect(str(db))
    t, c = time.perf_counter(), _cpu()
    con.execute(f"CREATE TABLE a AS SELECT * FROM read_csv('{csv}')")
    elapsed, cpu = time.perf_counter() - t, _cpu() - c
    con.close()
    db.unlink()
    return elapsed, cpu


def _work(csv: Path, workdir: Path) -> dict[str, float]:
    """The ingest's own work, step by step, in this process (no Prefect)."""
    from schemas.contracts import DATASETS
    from schemas.plan import PlanSet
    from schemas.suites import suite_rules
    from warehouse.db import open_warehouse
    from warehouse.home import DEFAULT_PLAN
    from warehouse.landing import sha256_of
    from warehouse.load import LedgerEntry, cap_memory, load_file

    plans = PlanSet.load(DEFAULT_PLAN)
    now = dt.datetime.now(dt.timezone.utc)
    rules = suite_rules(DATASETS["activities"], departments=plans.departments, currency=plans.base.currency, now=now)
    times = {}
    t, c = time.perf_counter(), _cpu()
    sha = sha256_of(csv)
    times["hash"] = time.perf_counter() - t
    t2 = time.perf_counter()
    with open_warehouse(workdir / "work.duckdb") as con:
        cap_memory(con)  # as the flow does
        entry = LedgerEntry(f"activities/{csv.name}", "activities", sha, 0, 0, 0, 0, "loaded", None, now)
        entry = load_file(con, entry, csv, rules, plans.base.timezone)
    times["read+cast+validate+dedupe+load"] = time.perf_counter() - t2
    times["total"] = time.perf_counter() - t
    times["cpu"] = _cpu() - c
    assert entry.rows_read == entry.rows_loaded + entry.rows_quarantined + entry.rows_duplicate, entry
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--employees", type=int, default=12500, help="12,500 employees x 12 months = ~5M activity rows")
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()

    from orbit.synth import generate_org, write_org
    from schemas.plan import load_plan
    from warehouse.home import DEFAULT_PLAN

    workdir = Path(tempfile.mkdtemp(prefix="orbit-bench-"))
    try:
        end = dt.date(2026, 9, 30)
        frames = generate_org(employees=args.employees, months=args.months, seed=1, end_date=end,
                              plan=load_plan(DEFAULT_PLAN))
        home = workdir / "home"
        paths = write_org({"activities": frames["activities"]}, home / "landing", end_date=end)
        csv = paths["activities"]
        rows = frames["activities"].height
        size_mb = csv.stat().st_size / 1e6
        del frames

        limit_before = _limit(csv, workdir)
        work = _work(csv, workdir)
        limit_after = _limit(csv, workdir)
        limit, limit_cpu = ((a + b) / 2 for a, b in zip(limit_before, limit_after))

        from bench import run_command  # the S/M/L benchmark's runner: wall, flow time, peak RSS of the tree

        env = {**os.environ, "ORBIT_HOME": str(home), "PREFECT_HOME": str(workdir / "prefect"),
               "PREFECT_LOGGING_LEVEL": "WARNING", "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "GX_ANALYTICS_ENABLED": "false"}
        env.pop("PREFECT_API_URL", None)  # ephemeral API, its database under PREFECT_HOME
        run = run_command("orbit ingest", ["ingest"], env, workdir / "prefect" / "prefect.db")

        lines = [
            f"# Ingest benchmark — {dt.date.today()}",
            "",
            f"File: activities CSV, {rows:,} rows, {size_mb:,.0f} MB; machine: {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the end.",
            "",
            "| measure | wall s | rows/s | wall ratio | CPU s | CPU ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| limit: DuckDB `CREATE TABLE AS SELECT * FROM read_csv` (before {limit_before[0]:.2f} s, after "
            f"{limit_after[0]:.2f} s) | {limit:.2f} | {rows / limit:,.0f} | 1.00 | {limit_cpu:.2f} | 1.00 |",
            f"| Orbit work (hash, read, cast, validate, dedupe, load) | {work['total']:.2f} | "
            f"{rows / work['total']:,.0f} | {work['total'] / limit:.2f} | {work['cpu']:.2f} | {work['cpu'] / limit_cpu:.2f} |",
            f"| `orbit ingest` flow run (Prefect's own timing) | {run.work or float('nan'):.2f} | "
            f"{rows / run.work if run.work else float('nan'):,.0f} | {(run.work or float('nan')) / limit:.2f} | | |",
            f"| `orbit ingest` whole command (incl. Prefect start-up, imports) | {run.wall:.2f} | {rows / run.wall:,.0f} "
            f"| {run.wall / limit:.2f} | | |",
            "",
            "Work by step: " + ", ".join(f"{k} {v:.2f} s" for k, v in work.items() if k not in ("total", "cpu")),
            f"Peak RSS of `orbit ingest` (whole process tree): {run.peak_rss / 2**20:,.0f} MiB",
        ]
        report = "\n".join(lines)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"ingest-{dt.date.today()}.md").write_text(report + "\n")
        sys.stdout.write(report + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
