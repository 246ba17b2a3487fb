"""Issue 5 acceptance: ``orbit ingest`` killed at random moments (SIGKILL) leaves a warehouse that,
once a last run completes, is identical to a clean ingest of the same files."""

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

from warehouse.home import Home
from schemas.contracts import DATASETS

END = dt.date(2026, 3, 31)  # fixed and in the past: which rows are "in the future" cannot change between runs
EMPLOYEES = 3500  # ~1.4M activity rows over 12 months
KILLS = 10
SEED = 20260331
ROOT = Path(__file__).resolve().parents[2]


def _env(home: Home, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # never the test harness's server
    env.update(ORBIT_HOME=str(home.root), PREFECT_HOME=str(prefect_home), PREFECT_LOGGING_LEVEL="WARNING",
               DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", GX_ANALYTICS_ENABLED="false")
    return env


def _start(home: Home, prefect_home: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "orbit", "ingest"], cwd=ROOT, env=_env(home, prefect_home),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> bool:
    """SIGKILL the whole process group; True if the run was still going."""
    alive = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the whole group (ephemeral Prefect server too) is gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return alive


def _run_to_completion(home: Home, prefect_home: Path, log: Path) -> float:
    t = time.monotonic()
    proc = _start(home, prefect_home, log)
    rc = proc.wait(timeout=600)
    assert rc == 0, log.read_text(errors="replace")[-3000:]
    return time.monotonic() - t


def _snapshot(home: Home) -> dict:
    """What must not depend on crashes: per table row count and an order-independent digest of the rows
    (their content hash ``_row_hash``, and with their lineage), the ledger and the quarantine."""
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert con.execute("SELECT 42").fetchall() == [(42,)]
        tables = {}
        for name in [*DATASETS, *(f"{d}_history" for d in DATASETS)]:
            # sum of 64-bit hashes as HUGEINT: a multiset digest (md5(string_agg(.. ORDER BY ..)) takes ~35 s here)
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
    return {"tables": tables, "ledger": ledger, "quarantine": quarantine}


def _files_logged(home: Home) -> int:
    """Ledger rows in a just-killed home's warehouse (which must open read-only)."""
    if not home.warehouse.exists():
        return 0
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'ingestion_log'"
                           ).fetchall()[0][0]:
            return 0
        return con.execute("SELECT count(*) FROM ingestion_log").fetchall()[0][0]


@pytest.mark.slow
def test_ingest_killed_at_random_moments_ends_like_a_clean_ingest(default_plans, tmp_path):
    """Kill ``orbit ingest`` (SIGKILL, whole process group) at seeded random moments over a clean run's
    duration. Progress accumulates across killed runs; a run that finishes before its kill must already
    match the clean ingest, after which the crashed home starts over, so every counted kill hits a run
    with work left. After the kills, one run to completion must match the clean ingest."""
    from orbit.synth import generate_org, write_org

    pristine = tmp_path / "landing"
    crashed = Home(tmp_path / "crashed")
    clean = Home(tmp_path / "clean").ensure()
    prefect_home = tmp_path / "prefect"
    scratch = Home(tmp_path / "scratch").ensure()
    warm = _start(scratch, prefect_home, tmp_path / "warm.log")  # meanwhile, generate the files
    frames = generate_org(employees=EMPLOYEES, months=12, seed=SEED, end_date=END, plan=default_plans.base,
                          bad_rows=0.01)
    assert 1_000_000 <= frames["activities"].height <= 2_000_000
    paths = write_org(frames, pristine, end_date=END)
    # the same targets again under another name: a duplicate_file in both homes
    copy = paths["targets"].with_name("targets_copy.csv")
    shutil.copyfile(paths["targets"], copy)
    later = paths["targets"].stat().st_mtime + 5
    os.utime(copy, (later, later))
    n_files = len(list(p for p in pristine.rglob("*") if p.is_file()))

    def fresh(home: Home) -> None:  # copytree uses copy2: same bytes, same mtimes, same ledger order
        shutil.rmtree(home.root, ignore_errors=True)
        home.ensure()
        shutil.copytree(pristine, home.landing, dirs_exist_ok=True)

    fresh(clean)
    fresh(crashed)
    assert warm.wait(timeout=300) == 0  # Prefect's first start (creating its database) is not part of an ingest's duration
    clean_seconds = _run_to_completion(clean, prefect_home, tmp_path / "clean.log")
    expected = _snapshot(clean)
    assert expected["tables"]["activities"][0] > 1_000_000
    assert {s for (_, _, s, *_) in expected["ledger"]} == {"loaded", "duplicate_file"}
    assert len(expected["ledger"]) == n_files

    rng = random.Random(SEED)
    log = tmp_path / "crashed.log"
    kills = finished = 0
    after_kill: list[int] = []  # files in the ledger right after each kill
    for _ in range(4 * KILLS):
        if kills >= KILLS:
            break
        proc = _start(crashed, prefect_home, log)
        try:
            proc.wait(timeout=rng.uniform(2.0, max(clean_seconds, 3.0)))
        except subprocess.TimeoutExpired:
            if _kill_group(proc):
                kills += 1
                after_kill.append(_files_logged(crashed))
                continue
        # finished before its kill: resumed correctly after the earlier kills?
        assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
        assert _snapshot(crashed) == expected
        finished += 1
        fresh(crashed)
    assert kills >= KILLS, f"{kills} kills, {finished} runs finished first (clean run {clean_seconds:.1f}s)"
    assert any(0 < n < n_files for n in after_kill), f"no kill landed mid-ingest: {after_kill}"

    _run_to_completion(crashed, prefect_home, log)
    got = _snapshot(crashed)
    assert got["tables"] == expected["tables"]
    assert got["ledger"] == expected["ledger"]
    assert got["quarantine"] == expected["quarantine"]


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
