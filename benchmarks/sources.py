"""Source mapping benchmark: a mapped 5M-row export against the same rows in the landing contract's shape.

Writes ~5,000,000 activity rows twice with DuckDB: once as the contract's CSV (`activities/`:
ISO timestamps, contract headers) and once as a real export of the same rows would look
(headers with spaces and capitals, US dates `12/31/2025 14:05:09`, team names mapped to
department ids), read through a source mapping. Each is
ingested into a fresh warehouse by the same code the flow runs (in-process, no Prefect:
the work), alternately, ``--repeat`` times; the best time of each is compared (the machine is
shared, so the minimum is the least disturbed). Target: mapped <= 1.3 x contract.

    .venv/bin/python benchmarks/sources.py [--rows 5000000] [--repeat 2]
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

TEAMS = {"Sales": "sales", "Marketing": "marketing", "Customer Service": "customer_service",
         "Logistics": "logistics", "Dispatch": "dispatch", "Finance": "finance", "HR": "hr",
         "Facilities": "facilities", "IT": "technology"}
TYPES = ["lead_handoff", "first_contact", "lead_referred", "meeting_held", "ticket_resolved", "delivery_completed",
         "invoice_issued", "customer_call", "training_completed"]
MAPPING = """\
read:
  date_formats: ["%m/%d/%Y %H:%M:%S"]
feeds:
  - dataset: activities
    columns:
      event_id: Event ID
      occurred_at: Date
      employee_id: Agent
      department: {from: Team, map: {TEAM_MAP}}
      activity_type: Activity Type
      customer_id: Customer
      opportunity_id: Deal
      quantity: Qty
      value: Value
"""


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def write_files(rows: int, folder: Path) -> tuple[Path, Path]:
    """The same rows as a contract CSV and as an export (a duckdb COPY each)."""
    con = duckdb.connect()
    teams = list(TEAMS)
    con.execute(f"""CREATE TABLE a AS SELECT
        'EV' || lpad(CAST(i AS VARCHAR), 9, '0') AS event_id,
        TIMESTAMP '2025-10-01' + to_seconds(CAST(hash(i) % 31000000 AS BIGINT)) AS ts,
        'E' || CAST(hash(i * 7) % 12500 AS VARCHAR) AS employee_id,
        CAST(hash(i * 13) % 9 AS INTEGER) AS team,
        {[t for t in TYPES]}[CAST(hash(i * 17) % 9 AS INTEGER) + 1] AS activity_type,
        'C' || CAST(hash(i * 19) % 40000 AS VARCHAR) AS customer_id,
        CASE WHEN i % 3 = 0 THEN 'O' || CAST(hash(i * 23) % 200000 AS VARCHAR) END AS opportunity_id,
        CAST(1 + hash(i * 29) % 3 AS VARCHAR) AS quantity,
        CAST(round((hash(i * 31) % 100000) / 100.0, 2) AS VARCHAR) AS value
        FROM range({rows}) t(i)""")
    depts = "[" + ", ".join(f"'{d}'" for d in TEAMS.values()) + "]"
    names = "[" + ", ".join(f"'{t}'" for t in teams) + "]"
    contract = folder / "landing" / "activities" / "activities.csv"
    export = folder / "landing" / "calls" / "export.csv"
    contract.parent.mkdir(parents=True)
    export.parent.mkdir(parents=True)
    con.execute(f"""COPY (SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S') AS occurred_at, employee_id,
                    {depts}[team + 1] AS department, activity_type, customer_id, opportunity_id, quantity, value
                    FROM a ORDER BY event_id) TO '{contract}' (HEADER, DELIMITER ',')""")
    con.execute(f"""COPY (SELECT event_id AS "Event ID", strftime(ts, '%m/%d/%Y %H:%M:%S') AS "Date",
                    employee_id AS "Agent", {names}[team + 1] AS "Team", activity_type AS "Activity Type",
                    customer_id AS "Customer", opportunity_id AS "Deal", quantity AS "Qty", value AS "Value"
                    FROM a ORDER BY event_id) TO '{export}' (HEADER, DELIMITER ',')""")
    con.close()
    return contract, export


def ingest(path: Path, workdir: Path, mapped: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, rows loaded) of hashing and loading one file into a fresh warehouse."""
    from schemas.contracts import DATASETS
    from schemas.plan import PlanSet
    from schemas.sources import parse_mapping
    from schemas.suites import suite_rules
    from warehouse.db import open_warehouse
    from warehouse.home import DEFAULT_PLAN
    from warehouse.landing import sha256_of
    from warehouse.load import LedgerEntry, cap_memory, load_file
    from warehouse.sources import load_source_file

    plans = PlanSet.load(DEFAULT_PLAN)
    now = dt.datetime.now(dt.timezone.utc)

    def rules_for(dataset: str):
        return suite_rules(DATASETS[dataset], departments=plans.departments, currency=plans.base.currency, now=now)

    db = workdir / "work.duckdb"
    db.unlink(missing_ok=True)
    t, c = time.perf_counter(), _cpu()
    sha = sha256_of(path)
    with open_warehouse(db) as con:
        cap_memory(con)
        if mapped:
            team_map = "{" + ", ".join(f"{k}: {v}" for k, v in TEAMS.items()) + "}"
            source = parse_mapping(MAPPING.replace("{TEAM_MAP}", team_map), workdir / "calls.yaml")
            entry = LedgerEntry(f"calls/{path.name}", None, sha, 0, 0, 0, 0, "loaded", None, now)
            (entry,) = load_source_file(con, entry, path, source, rules_for, plans.base.timezone)
        else:
            entry = LedgerEntry(f"activities/{path.name}", "activities", sha, 0, 0, 0, 0, "loaded", None, now)
            entry = load_file(con, entry, path, rules_for("activities"), plans.base.timezone)
    elapsed, cpu = time.perf_counter() - t, _cpu() - c
    db.unlink(missing_ok=True)
    assert entry.rows_read == entry.rows_loaded + entry.rows_quarantined + entry.rows_duplicate + entry.rows_skipped
    return elapsed, cpu, entry.rows_loaded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="orbit-bench-sources-"))
    try:
        t = time.perf_counter()
        contract, export = write_files(args.rows, workdir)
        sys.stdout.write(f"files written in {time.perf_counter() - t:.1f} s: contract {contract.stat().st_size / 1e6:.0f} MB,"
                         f" export {export.stat().st_size / 1e6:.0f} MB\n")
        runs: dict[str, list[tuple[float, float, int]]] = {"contract": [], "mapped": []}
        for _ in range(args.repeat):
            for kind, path in (("contract", contract), ("mapped", export)):
                runs[kind].append(ingest(path, workdir, kind == "mapped"))
                sys.stdout.write(f"  {kind}: {runs[kind][-1][0]:.2f} s wall, {runs[kind][-1][1]:.2f} s CPU, "
                                 f"{runs[kind][-1][2]:,} rows loaded\n")
        best = {k: min(v) for k, v in runs.items()}
        assert best["contract"][2] == best["mapped"][2] == args.rows, best
        ratio = best["mapped"][0] / best["contract"][0]
        cpu_ratio = min(r[1] for r in runs["mapped"]) / min(r[1] for r in runs["contract"])
        lines = [
            f"# Source mapping benchmark — {dt.date.today()}",
            "",
            f"{args.rows:,} activity rows; machine: {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f} at the end (shared: times are noisy). Best of {args.repeat}, alternating.",
            "",
            "| file | wall s (best) | all runs | CPU s (best) |",
            "| --- | ---: | --- | ---: |",
            *(f"| {k} | {best[k][0]:.2f} | {', '.join(f'{r[0]:.2f}' for r in v)} | {min(r[1] for r in v):.2f} |"
              for k, v in runs.items()),
            "",
            f"Mapped / contract: **{ratio:.2f}x** wall, {cpu_ratio:.2f}x CPU (target <= 1.3x).",
        ]
        report = "\n".join(lines)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"sources-{dt.date.today()}.md").write_text(report + "\n")
        sys.stdout.write(report + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
