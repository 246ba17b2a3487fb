"""Ingest benchmark: `orbit ingest` of a ~5,000,000-row activities CSV against the physical limit.

The limit is DuckDB's bare `CREATE TABLE AS SELECT * FROM read_csv(...)` of the same file,
on the same machine, in the same run. Reported: the whole command's wall time and peak
RSS (Prefect's start-up included), the work inside it (read, cast, validate, de-duplicate,
load — timed in-process without Prefect), rows/s, and the ratios to the limit.

    make bench-ingest            # or: .venv/bin/python benchmarks/ingest.py --employees 12500
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _limit(csv: Path, workdir: Path) -> float:
    db = workdir / "limit.duckdb"
    con = duckdb.connect(str(db))
    t = time.perf_counter()
    con.execute(f"CREATE TABLE a AS SELECT * FROM read_csv('{csv}')")
    elapsed = time.perf_counter() - t
    con.close()
    db.unlink()
    return elapsed


def _work(csv: Path, workdir: Path) -> dict[str, float]:
    """The ingest's own work, step by step, in this process (no Prefect)."""
    from orbit.settings import DEFAULT_PLAN
    from orbit.landing import sha256_of
    from schemas.contracts import DATASETS
    from schemas.plan import PlanSet
    from schemas.suites import build_suite
    from warehouse.db import open_warehouse
    from warehouse.load import LedgerEntry, load_file

    plans = PlanSet.load(DEFAULT_PLAN)
    now = dt.datetime.now(dt.timezone.utc)
    suite = build_suite(DATASETS["activities"], departments=plans.departments, currency=plans.base.currency, now=now)
    times = {}
    t = time.perf_counter()
    sha = sha256_of(csv)
    times["hash"] = time.perf_counter() - t
    t = time.perf_counter()
    with open_warehouse(workdir / "work.duckdb") as con:
        entry = LedgerEntry(f"activities/{csv.name}", "activities", sha, 0, 0, 0, 0, "loaded", None, now)
        entry = load_file(con, entry, csv, suite, plans.base.timezone)
    times["read+cast+validate+dedupe+load"] = time.perf_counter() - t
    assert entry.rows_read == entry.rows_loaded + entry.rows_quarantined + entry.rows_duplicate, entry
    times["total"] = sum(times.values())
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--employees", type=int, default=12500, help="12,500 employees x 12 months = ~5M activity rows")
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()

    from orbit.generate import generate_org, write_org
    from orbit.settings import DEFAULT_PLAN
    from schemas.plan import load_plan

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

        limit = _limit(csv, workdir)
        work = _work(csv, workdir)

        env = {**os.environ, "ORBIT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING"}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "orbit", "ingest"], env=env, check=True, capture_output=True)
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        lines = [
            f"# Ingest benchmark — {dt.date.today()}",
            "",
            f"File: activities CSV, {rows:,} rows, {size_mb:,.0f} MB; machine: {os.cpu_count()} cores.",
            "",
            "| measure | seconds | rows/s | ratio to limit |",
            "| --- | ---: | ---: | ---: |",
            f"| limit: DuckDB `CREATE TABLE AS SELECT * FROM read_csv` | {limit:.2f} | {rows / limit:,.0f} | 1.00 |",
            f"| Orbit work (hash, read, cast, validate, dedupe, load) | {work['total']:.2f} | {rows / work['total']:,.0f} "
            f"| {work['total'] / limit:.2f} |",
            f"| `orbit ingest` whole command (incl. Prefect start-up, imports) | {wall:.2f} | {rows / wall:,.0f} "
            f"| {wall / limit:.2f} |",
            "",
            "Work by step: " + ", ".join(f"{k} {v:.2f} s" for k, v in work.items() if k != "total"),
            f"Peak RSS of `orbit ingest`: {peak_mb:,.0f} MB",
        ]
        report = "\n".join(lines)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"ingest-{dt.date.today()}.md").write_text(report + "\n")
        sys.stdout.write(report + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
