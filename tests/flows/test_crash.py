"""Killed writers (issues 5 and 13): ``orbit run`` killed with SIGKILL — its whole process group, as an OOM
kill, a container stop or a power cut would — at random moments, many times, then run to completion: the
warehouse, ledger and marts equal a clean run's, and no kill blocks the next writer. SIGTERM ends a working
and a waiting run within seconds; one home never waits for another."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from schemas.contracts import DATASETS
from warehouse.home import Home
from warehouse.lock import holder, writer_lock

END = dt.date(2026, 3, 31)  # fixed and in the past: which rows are "in the future" cannot change between runs
EMPLOYEES = 500  # ~200k activity rows over 12 months: kills land in ingest, evaluate and publish
KILLS = 20
SEED = 20260331
ROOT = Path(__file__).resolve().parents[2]
#: Marts compared with a clean run's: every column but the clock's.
MARTS = {
    "employee_scores": "*", "evaluation_matrix": "*", "bonus_lines": "*", "department_matrix": "*",
    "attribution_credits": "*", "attribution_department_values": "*", "data_quality": "*", "run_inputs": "*",
    "period_status": "period, state, closed_run_id, closed_by, pending_restatement",
    "runs": "DISTINCT run_id, kind, status, periods, plan_version",  # a killed run may have completed a step
}
PUBLISHED = ("employee_scores", "evaluation_matrix", "department_matrix", "attribution_credits", "period_status")


def _env(home: Home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # no Prefect API: a one-off run
    env.update(ORBIT_HOME=str(home.root), PREFECT_HOME=str(home.root.parent / "prefect"),
               PREFECT_LOGGING_LEVEL="WARNING", DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               GX_ANALYTICS_ENABLED="false")
    return env


def _start(home: Home, log: Path, verb: str = "run") -> subprocess.Popen:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "orbit", verb], cwd=ROOT, env=_env(home),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> bool:
    """SIGKILL the whole process group; True if the run was still going."""
    alive = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    return alive


def _run_to_completion(home: Home, log: Path) -> float:
    t = time.monotonic()
    proc = _start(home, log)
    rc = proc.wait(timeout=900)
    assert rc == 0, log.read_text(errors="replace")[-3000:]
    return time.monotonic() - t


def _digest(con, table: str, columns: str) -> tuple:
    return con.execute(f"SELECT count(*), sum(hash(r)::HUGEINT) FROM (SELECT {columns} FROM {table}) r").fetchall()[0]


def _snapshot(home: Home) -> dict:
    """What must not depend on crashes: per table row count and an order-independent digest of the rows
    (their content hash ``_row_hash``, and with their lineage), the ledger, the quarantine, the marts and the
    published snapshot's marts."""
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        tables = {}
        for name in [*DATASETS, *(f"{d}_history" for d in DATASETS)]:
            tables[name] = con.execute(
                f"SELECT count(*), count(DISTINCT _row_hash), sum(hash(_row_hash)::HUGEINT), "
                f"sum(hash(_row_hash, _file, _line, _sha256)::HUGEINT) FROM {name}"
            ).fetchall()[0]
        ledger = sorted(con.execute(
            "SELECT file, sha256, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate FROM ingestion_log"
        ).fetchall())
        quarantine = sorted(con.execute(
            "SELECT file, sha256, line, reason, details, CAST(raw AS VARCHAR) FROM quarantine").fetchall())
        for row in con.execute(
            "SELECT file, rows_read, rows_loaded, rows_quarantined, rows_duplicate FROM ingestion_log"
        ).fetchall():
            assert row[1] == row[2] + row[3] + row[4], row
        marts = {t: _digest(con, t, c) for t, c in MARTS.items()}
    with duckdb.connect(str(home.published), read_only=True) as con:
        published = {t: _digest(con, t, MARTS.get(t, "*")) for t in PUBLISHED}
        published["ingestion_log"] = sorted(con.execute("SELECT file, sha256, status FROM ingestion_log").fetchall())
    return {"tables": tables, "ledger": ledger, "quarantine": quarantine, "marts": marts, "published": published}


def _files_logged(home: Home) -> int:
    """Ledger rows in a just-killed home's warehouse (which must open read-only)."""
    if not home.warehouse.exists():
        return 0
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'ingestion_log'"
                           ).fetchall()[0][0]:
            return 0
        return con.execute("SELECT count(*) FROM ingestion_log").fetchall()[0][0]


def _blocked_after_kill(home: Home, killed_at: float) -> float:
    """Seconds from a kill until the next writer holds the home's writer lock."""
    with writer_lock(home.root, "probe", timeout=60):
        return time.monotonic() - killed_at


@pytest.fixture(scope="module")
def company(tmp_path_factory, default_plans):
    """The generated company's landing files, and a clean run of them."""
    from orbit.synth import generate_org, write_org

    base = tmp_path_factory.mktemp("company")
    pristine = base / "landing"
    frames = generate_org(employees=EMPLOYEES, months=12, seed=SEED, end_date=END, plan=default_plans.base,
                          bad_rows=0.01)
    paths = write_org(frames, pristine, end_date=END)
    # the same targets again under another name: a duplicate_file in both homes
    copy = paths["targets"].with_name("targets_copy.csv")
    shutil.copyfile(paths["targets"], copy)
    later = paths["targets"].stat().st_mtime + 5
    os.utime(copy, (later, later))
    clean = _fresh(Home(base / "clean"), pristine)
    seconds = _run_to_completion(clean, base / "clean.log")
    return pristine, clean, seconds, frames["activities"].height


def _fresh(home: Home, pristine: Path) -> Home:
    """A home holding the company's files (copytree uses copy2: same bytes, same mtimes, same ledger order)."""
    shutil.rmtree(home.root, ignore_errors=True)
    home.ensure()
    shutil.copytree(pristine, home.landing, dirs_exist_ok=True)
    return home


@pytest.mark.slow
def test_run_killed_at_random_moments_ends_like_a_clean_run(company, tmp_path):
    """Kill ``orbit run`` (SIGKILL, whole process group) at seeded random moments over a clean run's
    duration. Progress accumulates across killed runs; a run that finishes before its kill must already
    match the clean run, after which the crashed home starts over, so every counted kill hits a run with
    work left. After each kill the next writer gets the lock at once; after the last, one run to
    completion must match the clean run."""
    pristine, clean, clean_seconds, activities = company
    expected = _snapshot(clean)
    assert 0 < expected["tables"]["activities"][0] <= activities
    assert {s for (_, _, s, *_) in expected["ledger"]} == {"loaded", "duplicate_file"}
    assert expected["marts"]["employee_scores"][0] > 0

    crashed = _fresh(Home(tmp_path / "crashed"), pristine)
    n_files = len(expected["ledger"])
    rng = random.Random(SEED)
    log = tmp_path / "crashed.log"
    kills = finished = 0
    after_kill: list[int] = []  # files in the ledger right after each kill
    blocked: list[float] = []  # seconds each kill kept the next writer out
    for _ in range(4 * KILLS):
        if kills >= KILLS:
            break
        proc = _start(crashed, log)
        try:
            proc.wait(timeout=rng.uniform(0.3, max(0.9 * clean_seconds, 3.0)))
        except subprocess.TimeoutExpired:
            killed_at = time.monotonic()
            if _kill_group(proc):
                kills += 1
                blocked.append(_blocked_after_kill(crashed, killed_at))
                after_kill.append(_files_logged(crashed))
                continue
        # finished before its kill: resumed correctly after the earlier kills?
        assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
        assert _snapshot(crashed) == expected
        finished += 1
        _fresh(crashed, pristine)
    assert kills >= KILLS, f"{kills} kills, {finished} runs finished first (clean run {clean_seconds:.1f}s)"
    assert any(0 < n < n_files for n in after_kill), f"no kill landed mid-ingest: {after_kill}"
    assert any(n == n_files for n in after_kill), f"no kill landed after the ingest: {after_kill}"
    assert max(blocked) < 10, blocked  # a dead writer frees the lock at once (kernel), not after a lease

    t = time.monotonic()
    final = _start(crashed, log)
    assert final.wait(timeout=900) == 0, log.read_text(errors="replace")[-3000:]
    got = _snapshot(crashed)
    for part in ("tables", "ledger", "quarantine", "marts", "published"):
        assert got[part] == expected[part], part
    leftovers = [p.name for p in crashed.published.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers  # no half-written snapshot left behind
    print(f"\n{kills} kills ({finished} runs finished first), clean run {clean_seconds:.1f} s; a killed writer "
          f"blocked the next for at most {max(blocked):.2f} s (median {sorted(blocked)[len(blocked) // 2]:.2f} s); "
          f"final run {time.monotonic() - t:.1f} s; ledger rows after each kill: {after_kill}")


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _stops_within(proc: subprocess.Popen, sig: int, seconds: float) -> int:
    t = time.monotonic()
    proc.send_signal(sig)  # to the process alone, as `timeout`, systemd or Docker do
    rc = proc.wait(timeout=60)
    took = time.monotonic() - t
    assert took < seconds, f"took {took:.1f} s to stop"
    return rc


@pytest.mark.slow
def test_sigterm_ends_a_working_and_a_waiting_run_within_seconds(company, tmp_path):
    pristine, clean, _, _ = company
    expected = _snapshot(clean)
    home = _fresh(Home(tmp_path / "home"), pristine)
    log = tmp_path / "run.log"

    # working: holding the lock, in the middle of the ingest
    proc = _start(home, log)
    _wait_until(lambda: (holder(home.root) or "").startswith(f"pid {proc.pid} "), 120, "the run to hold the lock")
    time.sleep(1.5)  # into the ingest
    assert _stops_within(proc, signal.SIGTERM, 5) == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in log.read_text()
    with writer_lock(home.root, "probe", timeout=1):  # freed
        pass

    # waiting: another writer holds the lock; Ctrl-C (SIGINT) and SIGTERM both end the waiting command
    with writer_lock(home.root, "test"):
        for sig in (signal.SIGTERM, signal.SIGINT):
            waiting = _start(home, log)
            waiters = 1 + (sig == signal.SIGINT)
            _wait_until(lambda n=waiters: log.read_text().count("waiting for the writer") >= n, 60, "the run to wait")
            assert _stops_within(waiting, sig, 3) == 128 + sig
        # meanwhile another home's writer does not wait for this one
        other = _fresh(Home(tmp_path / "other"), pristine)
        assert _start(other, tmp_path / "other.log", "ingest").wait(timeout=600) == 0
        assert "waiting for the writer" not in (tmp_path / "other.log").read_text()

    _run_to_completion(home, log)  # nothing half-done: the stopped run resumes like a clean one
    got = _snapshot(home)
    for part in ("tables", "ledger", "quarantine", "marts", "published"):
        assert got[part] == expected[part], part


def test_crash_between_logging_a_rejected_file_and_moving_it(prefect_harness, home, default_plans, monkeypatch):
    """The rejection is ledgered (with its destination) before the file is moved; a crash in between
    leaves the file in landing, and the next run moves it without logging it twice."""
    import flows.ingest as ingest

    path = home.landing / "activities" / "a.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("event_id,occurred_at\nA1,2026-01-05T10:00:00\n")

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the ledger commit, before the move")

    monkeypatch.setattr(ingest, "move_rejected", crash)
    with pytest.raises(Exception, match="simulated crash"):
        ingest.ingest_flow(home, default_plans)
    assert path.exists()
    monkeypatch.undo()
    assert ingest.ingest_flow(home, default_plans) == []  # nothing new: only the move is finished
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        rows = con.execute("SELECT file, status, message, quarantined_to FROM ingestion_log").fetchall()
    [(file, status, message, target)] = rows
    assert (file, status, target) == ("activities/a.csv", "rejected", "quarantine/files/activities/a.csv")
    assert not path.exists() and (home.root / target).exists()
    assert "missing required column(s)" in (home.root / (target + ".reason")).read_text(encoding="utf-8")
    assert message.startswith(str(path))
