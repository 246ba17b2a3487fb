"""Per-verb wall time and work of Orbit's one-off commands on the demo company (issue 13).

    .venv/bin/python benchmarks/verbs.py [--home DIR] [--repeat N]

Without ``--home`` it builds the demo company (`orbit demo`, 300 employees, 12 months) in a temporary
folder first. Each verb runs as a real CLI subprocess (``python -m orbit -v ...``), in the order HR
would use them on the last complete quarter: a draft export, ``evaluate --period``, ``close``, the final
export, ``reopen``, then ``publish``, ``ingest`` and ``run`` with nothing new, and two bad arguments.

* **wall** = the whole command, process start to exit.
* **work** = the verb's own work: the ``work took N s`` line Orbit logs at ``-v`` for every writing
  verb (from the moment the writer lock is held to the end of the work). For a build that predates
  that line (the "before" column of ``benchmarks/README.md``), the top-level Prefect flow run's
  start-to-end time read from the Prefect database, as ``bench.py`` does.
* **start-up** = wall − work.

The median of ``--repeat`` runs is reported (default 3). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK_LINE = re.compile(r"work took ([0-9.]+) s")


def _env(home: Path, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(ORBIT_HOME=str(home), PREFECT_HOME=str(prefect_home), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", GX_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    return env


def _flow_work(prefect_db: Path, since: dt.datetime) -> float | None:
    """Seconds of the last top-level Prefect flow run started after ``since`` (builds without the log line)."""
    if not prefect_db.exists():
        return None
    con = sqlite3.connect(f"file:{prefect_db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT start_time, end_time FROM flow_run WHERE start_time >= ? AND end_time IS NOT NULL "
            "AND parent_task_run_id IS NULL ORDER BY start_time", [since.strftime("%Y-%m-%d %H:%M:%S.%f")]).fetchall()
    finally:
        con.close()
    if not rows:
        return None
    start, end = rows[-1]
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def measure(args: list[str], env: dict[str, str], expect: int = 0) -> tuple[float, float | None]:
    since = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "orbit", "-v", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    if proc.returncode != expect:
        raise RuntimeError(f"orbit {' '.join(args)} exited {proc.returncode}, expected {expect}:\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    found = WORK_LINE.findall(proc.stderr)
    work = sum(float(x) for x in found) if found else None
    if work is None and expect == 0:
        work = _flow_work(Path(env["PREFECT_HOME"]) / "prefect.db", since)
    return wall, work


def last_complete_quarter(today: dt.date) -> str:
    """The demo's period: the last quarter that ended by the end of last month."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    q = (end.month - 1) // 3 + 1
    if end.month % 3:  # the quarter of `end` is not complete
        q -= 1
    year = end.year
    if q == 0:
        year, q = year - 1, 4
    return f"{year}-Q{q}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="an ORBIT_HOME holding the demo company (default: build one)")
    parser.add_argument("--period", default=None, help="the quarter to close (default: the demo's last complete one)")
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="orbit-verbs-"))
    prefect_home = work_dir / "prefect"
    try:
        home = opts.home
        if home is None:
            home = work_dir / "demo"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "orbit", "demo"], env=_env(home, prefect_home), cwd=ROOT,
                           check=True, capture_output=True)
            print(f"# demo company built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        env = _env(home, prefect_home)
        if opts.period is None:
            opts.period = last_complete_quarter(dt.date.today())
        p = opts.period
        verbs = [
            (f"export bonus --period {p} --draft", ["export", "bonus", "--period", p, "--draft"], 0),
            (f"evaluate --period {p}", ["evaluate", "--period", p], 0),
            (f"close --period {p}", ["close", "--period", p], 0),
            (f"export bonus --period {p}", ["export", "bonus", "--period", p], 0),
            (f"reopen --period {p}", ["reopen", "--period", p, "--reason", "benchmark"], 0),
            ("publish", ["publish"], 0),
            ("ingest (nothing new)", ["ingest"], 0),
            ("run (nothing new)", ["run"], 0),
            ("export bonus --format pdf (refused)", ["export", "bonus", "--period", p, "--format", "pdf"], 2),
            ("evaluate --period 2026-13 (refused)", ["evaluate", "--period", "2026-13"], 2),
            ("status (reads only)", ["status"], 0),
        ]
        samples: dict[str, list[tuple[float, float | None]]] = {label: [] for label, _, _ in verbs}
        for _ in range(opts.repeat):
            for label, args, expect in verbs:
                samples[label].append(measure(args, env, expect))
        print(f"| verb | wall s | work s | start-up s |   (median of {opts.repeat}; load {os.getloadavg()[0]:.1f})")
        print("| --- | ---: | ---: | ---: |")
        for label, _, _ in verbs:
            walls = [w for w, _ in samples[label]]
            works = [k for _, k in samples[label] if k is not None]
            wall = statistics.median(walls)
            work = statistics.median(works) if works else None
            print(f"| `orbit {label}` | {wall:.2f} | {'—' if work is None else f'{work:.2f}'} | "
                  f"{'—' if work is None else f'{wall - work:.2f}'} |")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
