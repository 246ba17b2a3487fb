"""Scale benchmark: every Orbit verb at S, M and L against the physical limit of this machine.

For each size (S = 300 employees x 12 months, M = 3,000 x 12, L = 10,000 x 12) a seeded
organisation is generated with a fixed end date into a temporary ORBIT_HOME, then measured:

* `orbit ingest`, `orbit evaluate`, `orbit publish`, `orbit export bonus --draft` (last quarter),
  one after the other in one home, and `orbit run` end to end in a fresh home;
* for each command: the whole command's wall time, the **work** inside it (the Prefect flow
  run's own start-to-end time, read from the run's Prefect database after the command exits:
  everything but Python imports, the ephemeral Prefect API's start-up and shut-down), rows/s,
  and the peak RSS of the whole process tree (psutil, sampled every 50 ms);
* the **limit**, in the same run on the same machine: DuckDB's bare read of the same landing files
  (`CREATE TABLE AS SELECT * FROM read_csv(...)`, one table per file) plus one SQL aggregation over
  them (activities joined to opportunities, grouped by employee, quarter and activity type);
* each step's ratio work / limit, the scaling factor time(L)/time(M) against rows(L)/rows(M), and
  the incremental case: a new 10,000-row activities file for the last quarter, then
  `orbit ingest` + `orbit evaluate --period <that quarter>`.

    make bench                                   # S, M and L (~10 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --sizes S          # quick run
    .venv/bin/python benchmarks/bench.py --sizes S,M --out /tmp/results

The report goes to benchmarks/results/<date>.md (and stdout).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"S": 300, "M": 3_000, "L": 10_000}
MONTHS = 12
SEED = 1
END_DATE = dt.date(2026, 9, 30)
INCREMENT_ROWS = 10_000
_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".jsonl": "read_json", ".json": "read_json"}
_AGGREGATION = """
    CREATE TABLE _agg AS
    SELECT a.employee_id, date_trunc('quarter', a.occurred_at) AS quarter, a.activity_type,
           count(*) AS events, sum(coalesce(a.quantity, 1)) AS quantity,
           count(o.opportunity_id) AS touches, sum(CASE WHEN o.stage = 'won' THEN o.amount END) AS won_amount
    FROM activities a LEFT JOIN opportunities o ON o.opportunity_id = a.opportunity_id
    GROUP BY ALL
"""


@dataclass
class Measure:
    step: str
    wall: float
    work: float | None
    peak_rss: int
    flows: dict[str, float] = field(default_factory=dict)  # sub-flow name -> seconds (orbit run)


@dataclass
class SizeResult:
    size: str
    employees: int
    rows: dict[str, int]
    landing_mb: float
    generate_s: float
    limit_read: float
    limit_agg: float
    steps: list[Measure]
    increment: list[Measure]
    increment_period: str

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def limit(self) -> float:
        return self.limit_read + self.limit_agg

    def step(self, name: str) -> Measure:
        return next(m for m in self.steps if m.step == name)


# --------------------------------------------------------------------------- measuring
class _TreeSampler(threading.Thread):
    """Peak RSS of a process and all its descendants, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, rss)
            self.done.wait(self.interval)


def _flow_runs(prefect_db: Path, since: dt.datetime) -> list[tuple[str, str | None, float]]:
    """(flow name, parent task run, seconds) of the flow runs started after ``since`` (UTC)."""
    if not prefect_db.exists():
        return []
    con = sqlite3.connect(f"file:{prefect_db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT f.name, r.parent_task_run_id, r.start_time, r.end_time FROM flow_run r "
            "JOIN flow f ON f.id = r.flow_id WHERE r.start_time >= ? AND r.end_time IS NOT NULL "
            "ORDER BY r.start_time",
            [since.strftime("%Y-%m-%d %H:%M:%S.%f")],
        ).fetchall()
    finally:
        con.close()
    parse = dt.datetime.fromisoformat
    return [(name, parent, (parse(end) - parse(start)).total_seconds()) for name, parent, start, end in rows]


def run_command(label: str, args: list[str], env: dict[str, str], prefect_db: Path) -> Measure:
    """Run `orbit <args>` in a subprocess: wall time, flow work time, peak RSS of the process tree."""
    since = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "orbit", "-v", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = _TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"orbit {' '.join(args)} exited {proc.returncode}:\n{out}\n{err}")
    runs = _flow_runs(prefect_db, since)
    top = [r for r in runs if r[1] is None]
    work = top[-1][2] if top else None
    logged = re.findall(r"work took ([0-9.]+) s", err)  # one-off verbs run without Prefect: Orbit's own line
    if logged:
        work = sum(float(x) for x in logged)
    subflows = {name: secs for name, parent, secs in runs if parent is not None}
    return Measure(label, wall, work, sampler.peak, subflows)


def measure_limit(landing: Path, workdir: Path) -> tuple[float, float]:
    """DuckDB's bare read of every landing file into a table, then one aggregation over them."""
    db = workdir / "limit.duckdb"
    con = duckdb.connect(str(db))
    read = 0.0
    try:
        for path in sorted(p for p in landing.rglob("*") if p.suffix in _READERS and not p.name.startswith(".")):
            table = path.parent.name
            t = time.perf_counter()
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {_READERS[path.suffix]}('{path}')")
            read += time.perf_counter() - t
        t = time.perf_counter()
        con.execute(_AGGREGATION)
        agg = time.perf_counter() - t
    finally:
        con.close()
        db.unlink(missing_ok=True)
    return read, agg


def write_increment(activities: pl.DataFrame, landing: Path, period_start: dt.date) -> Path:
    """A new activities file of INCREMENT_ROWS rows dated in one period (new event ids, same shape)."""
    recent = activities.filter(pl.col("occurred_at") >= period_start.isoformat())
    step = max(recent.height // INCREMENT_ROWS, 1)
    rows = recent.gather_every(step).head(INCREMENT_ROWS).with_columns(
        pl.format("bench-inc-{}", pl.int_range(pl.len()).cast(pl.Utf8).str.zfill(6)).alias("event_id"))
    path = landing / "activities" / "activities_increment.csv"
    rows.write_csv(path, include_header=True, null_value="", line_terminator="\n")
    return path


def bench_size(size: str, workdir: Path, env: dict[str, str]) -> SizeResult:
    from orbit.synth import generate_org, write_org
    from schemas.plan import load_plan
    from transforms.periods import period_of
    from warehouse.home import DEFAULT_PLAN

    plan = load_plan(DEFAULT_PLAN)
    employees = SIZES[size]
    log(f"[{size}] generating {employees} employees x {MONTHS} months")
    t = time.perf_counter()
    frames = generate_org(employees=employees, months=MONTHS, seed=SEED, end_date=END_DATE, plan=plan)
    home_steps, home_run = workdir / size / "steps", workdir / size / "run"
    paths = write_org(frames, home_steps / "landing", end_date=END_DATE)
    generate_s = time.perf_counter() - t
    shutil.copytree(home_steps / "landing", home_run / "landing")
    rows = {name: frame.height for name, frame in frames.items()}
    landing_mb = sum(p.stat().st_size for p in paths.values()) / 1e6
    activities = frames["activities"]
    del frames

    log(f"[{size}] limit: DuckDB read + aggregation")
    limit_read, limit_agg = measure_limit(home_steps / "landing", workdir)

    prefect_db = Path(env["PREFECT_HOME"]) / "prefect.db"
    quarter = period_of(END_DATE, plan.period)
    steps = []
    for label, args, home in [
        ("ingest", ["ingest"], home_steps),
        ("evaluate", ["evaluate"], home_steps),
        ("publish", ["publish"], home_steps),
        ("export bonus --draft", ["export", "bonus", "--period", quarter.label, "--draft"], home_steps),
        ("run (fresh home)", ["run"], home_run),
    ]:
        log(f"[{size}] orbit {' '.join(args)}")
        steps.append(run_command(label, args, {**env, "ORBIT_HOME": str(home)}, prefect_db))

    write_increment(activities, home_steps / "landing", quarter.start)
    increment = []
    for label, args in [("ingest", ["ingest"]), ("evaluate --period", ["evaluate", "--period", quarter.label])]:
        log(f"[{size}] increment: orbit {' '.join(args)}")
        increment.append(run_command(label, args, {**env, "ORBIT_HOME": str(home_steps)}, prefect_db))
    shutil.rmtree(workdir / size, ignore_errors=True)
    return SizeResult(size, employees, rows, landing_mb, generate_s, limit_read, limit_agg, steps, increment,
                      quarter.label)


# --------------------------------------------------------------------------- report
def _s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _mb(b: int) -> str:
    return f"{b / 2**20:,.0f}"


def render(results: list[SizeResult], *, started: dt.datetime, elapsed: float, note: str) -> str:
    lines = [
        f"# Scale benchmark — {started:%Y-%m-%d}",
        "",
        f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, DuckDB {duckdb.__version__}. "
        f"ORBIT_MEMORY_LIMIT={os.environ.get('ORBIT_MEMORY_LIMIT', '(default)')}. "
        f"Seed {SEED}, end date {END_DATE}, {MONTHS} months. Benchmark wall time {elapsed / 60:.1f} min.",
    ]
    if note:
        lines += ["", note]
    lines += [
        "",
        "**work** = the Prefect flow run's own start-to-end time (no imports, no ephemeral API start-up);",
        "**start-up** = wall − work; **rows/s** = input rows (all six datasets) / work; **× limit** = work / limit.",
        "",
    ]
    for r in results:
        lines += [
            f"## {r.size}: {r.employees:,} employees × {MONTHS} months — {r.total_rows:,} input rows "
            f"({r.rows['activities']:,} activities), {r.landing_mb:,.0f} MB of CSV",
            "",
            f"Limit: DuckDB bare read {r.limit_read:.2f} s + aggregation {r.limit_agg:.2f} s = **{r.limit:.2f} s** "
            f"({r.total_rows / r.limit:,.0f} rows/s). Generation took {r.generate_s:.1f} s (not counted).",
            "",
            "| step | wall s | start-up s | work s | rows/s (work) | peak RSS MiB | work × limit |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for m in r.steps + [Measure(f"increment: {m.step}", m.wall, m.work, m.peak_rss) for m in r.increment]:
            startup = None if m.work is None else m.wall - m.work
            rate = "n/a" if not m.work else f"{r.total_rows / m.work:,.0f}"
            ratio = "n/a" if m.work is None else f"{m.work / r.limit:.2f}"
            if m.step.startswith("increment"):
                rate = "n/a" if not m.work else f"{INCREMENT_ROWS / m.work:,.0f}"
                ratio = "—"
            lines.append(f"| {m.step} | {_s(m.wall)} | {_s(startup)} | {_s(m.work)} | {rate} | {_mb(m.peak_rss)} "
                         f"| {ratio} |")
        run = r.step("run (fresh home)")
        inc_work = sum(m.work or 0 for m in r.increment)
        inc_wall = sum(m.wall for m in r.increment)
        lines += [
            "",
            "`orbit run` sub-flows (work s): " + ", ".join(f"{k} {v:.2f}" for k, v in run.flows.items()),
            f"Incremental ({INCREMENT_ROWS:,} new activities in {r.increment_period}): ingest + evaluate "
            f"--period = {inc_work:.2f} s work, {inc_wall:.2f} s wall.",
            "",
        ]
    by = {r.size: r for r in results}
    pairs = [(a, b) for a, b in (("S", "M"), ("M", "L")) if a in by and b in by]
    if pairs:
        lines += ["## Scaling (work)", "",
                  "Linear means time ratio ≈ rows ratio; target time(L)/time(M) ≤ 1.2 × rows(L)/rows(M).", "",
                  "| step | " + " | ".join(f"time({b})/time({a})" for a, b in pairs) + " |",
                  "| --- | " + " | ".join("---:" for _ in pairs) + " |",
                  "| rows | " + " | ".join(f"{by[b].total_rows / by[a].total_rows:.2f}" for a, b in pairs) + " |",
                  "| limit | " + " | ".join(f"{by[b].limit / by[a].limit:.2f}" for a, b in pairs) + " |"]
        for step in [m.step for m in results[0].steps]:
            cells = []
            for a, b in pairs:
                wa, wb = by[a].step(step).work, by[b].step(step).work
                cells.append("n/a" if not wa or wb is None else f"{wb / wa:.2f}")
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def log(message: str) -> None:
    sys.stderr.write(f"{dt.datetime.now():%H:%M:%S} {message}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="S,M,L", help="comma-separated subset of S,M,L (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder of the report")
    ap.add_argument("--note", default="", help="a line added to the report (e.g. what else ran on the machine)")
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary homes go (default: $TMPDIR)")
    args = ap.parse_args()
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    if not sizes or any(s not in SIZES for s in sizes):
        ap.error(f"--sizes takes a comma-separated subset of {','.join(SIZES)}")

    started = dt.datetime.now()
    workdir = Path(tempfile.mkdtemp(prefix="orbit-bench-", dir=args.workdir))
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_LOGGING_LEVEL": "WARNING",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)  # ephemeral API, its database under PREFECT_HOME
    t = time.perf_counter()
    try:
        results = [bench_size(size, workdir, env) for size in sizes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = render(results, started=started, elapsed=time.perf_counter() - t, note=args.note)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started:%Y-%m-%d}.md"
    path.write_text(report + "\n")
    sys.stdout.write(report + "\n")
    log(f"report written to {path}")


if __name__ == "__main__":
    main()
