"""`orbit serve`: the completeness rule of the landing watcher, and the whole thing end to end (slow)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import psutil
import pytest

from orbit.serve import ArrivalTracker, LandingWatcher
from warehouse.home import PACKAGE_ROOT, Home

SETTLE = 1.0


@pytest.fixture()
def landing(tmp_path) -> Path:
    return Home(tmp_path / "home").ensure().landing


def _write(path: Path, text: str, mode: str = "w") -> Path:
    with path.open(mode) as fh:
        fh.write(text)
    return path


# --------------------------------------------------------------------------- the completeness rule
def test_a_file_renamed_into_place_is_announced_at_once(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    tmp = _write(landing / "activities" / ".a.csv.part", "event_id\n1\n")
    tracker.observe_batch([("added", tmp), ("modified", tmp)], 0.0)
    assert tracker.due(5.0) == []  # a temporary name is never announced
    final = landing / "activities" / "a.csv"
    tmp.rename(final)
    tracker.observe_batch([("deleted", tmp), ("added", final)], 10.0)  # what a rename looks like
    assert tracker.due(10.0) == [final]
    assert tracker.due(20.0) == []  # announced once


def test_a_file_copied_in_place_waits_until_it_has_settled(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    tmp = _write(landing / "activities" / "a.csv.tmp", "x")
    final = _write(landing / "activities" / "a.csv", "event_id\n1\n")
    tmp.unlink()
    # written, not renamed (e.g. `mv` across filesystems: copy, then delete the source)
    tracker.observe_batch([("added", final), ("modified", final), ("deleted", tmp)], 0.0)
    assert tracker.due(0.0) == []
    assert tracker.due(SETTLE) == [final]


def test_a_file_still_being_written_is_not_announced(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    path = _write(landing / "activities" / "b.csv", "event_id,occurred_at\n")
    tracker.observe(path, 0.0)
    _write(path, "e1,2026-07-01T10:00:00Z\n", "a")  # the writer goes on; its change event is not seen yet
    assert tracker.due(5.0) == []  # the fresh stat at due time shows a change: the wait restarts
    _write(path, "e2,2026-07-01T11:00:00Z\n", "a")
    tracker.observe(path, 5.2)
    assert tracker.due(5.2 + SETTLE - 0.1) == []
    assert tracker.due(5.2 + SETTLE) == [path]


@pytest.mark.parametrize("name", [".hidden.csv", "c.csv.tmp", "c.csv.part", "c.csv.partial", "c.csv.reason"])
def test_temporary_names_and_markers_are_never_announced(landing, name):
    tracker = ArrivalTracker(landing, SETTLE)
    tracker.observe(_write(landing / "activities" / name, "event_id\n1\n"), 0.0)
    assert tracker.due(100.0) == []


def test_a_done_marker_announces_at_once_and_an_empty_file_waits_for_it(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    empty = _write(landing / "feedback" / "f.csv", "")
    tracker.observe(empty, 0.0)
    assert tracker.due(100.0) == []  # empty: maybe created before being written
    path = _write(landing / "feedback" / "g.csv", "survey_id\n1\n")
    tracker.observe(path, 200.0)
    marker = _write(landing / "feedback" / "g.csv.done", "")
    tracker.observe(marker, 200.0)
    assert tracker.due(200.0) == [path]


def test_files_outside_dataset_folders_and_deleted_files_are_dropped(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    stray = _write(landing / "d.csv", "x\n1\n")
    (landing / "unknown").mkdir()
    unknown = _write(landing / "unknown" / "d.csv", "x\n1\n")
    gone = _write(landing / "targets" / "t.csv", "period\n2026-Q3\n")
    for p in (stray, unknown, gone):
        tracker.observe(p, 0.0)
    gone.unlink()
    assert tracker.due(100.0) == []
    assert tracker.waiting == []


def test_complete_files_come_out_in_ledger_order(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    files = [_write(landing / ds / n, "x\n1\n") for ds, n in
             (("activities", "z.csv"), ("activities", "a.csv"), ("opportunities", "m.csv"))]
    for seconds, path in zip((300, 100, 200), files):
        os.utime(path, (seconds, seconds))
        tracker.observe(path, 0.0)
    assert tracker.due(SETTLE) == [files[1], files[2], files[0]]


def test_the_watcher_announces_a_renamed_file(landing):
    announced: list[Path] = []
    arrived = threading.Event()

    def announce(path: Path) -> None:
        announced.append(path)
        arrived.set()

    watcher = LandingWatcher(Home(landing.parent), announce, settle_seconds=0.2).start()
    try:
        tmp = _write(landing / "measurements" / ".m.csv.part", "measurement_id\n1\n")
        tmp.rename(landing / "measurements" / "m.csv")
        assert arrived.wait(30)
    finally:
        watcher.stop()
    assert announced == [landing / "measurements" / "m.csv"]


# --------------------------------------------------------------------------- end to end (slow)
END = dt.date(2026, 9, 30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deliver(frame: pl.DataFrame, folder: Path, name: str) -> Path:
    """The documented safe way: write under a temporary name, rename into place."""
    tmp = folder / f".{name}.part"
    frame.write_csv(tmp, null_value="", line_terminator="\n")
    final = folder / name
    os.replace(tmp, final)
    return final


def _published_files(home: Home) -> dict[str, tuple[int, str]]:
    """file -> (seq, status) in the published ledger (read-only; None while nothing is published)."""
    try:
        con = duckdb.connect(str(home.published), read_only=True)
    except duckdb.Error:
        return {}
    try:
        return {f: (s, st) for f, s, st in con.execute("SELECT file, seq, status FROM ingestion_log").fetchall()}
    finally:
        con.close()


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"orbit serve exited ({proc.returncode}) while waiting for {what}")
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_serve_ingests_a_dropped_file_and_stops_cleanly(prefect_harness, default_plans, tmp_path):
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path / "home").ensure()
    frames = generate_org(employees=20, months=3, seed=5, end_date=END, plan=default_plans.base)
    write_org(frames, home.landing, end_date=END)
    run_flow(home, default_plans)  # seeded and published: evaluation has data

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # never the test harness's server
    env.update(ORBIT_HOME=str(home.root), PREFECT_HOME=str(tmp_path / "prefect-client"), PREFECT_LOGGING_LEVEL="WARNING",
               DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", GX_ANALYTICS_ENABLED="false")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "orbit", "serve", "--port", str(port)], env=env,
                                cwd=PACKAGE_ROOT, stdout=out, stderr=subprocess.STDOUT)
    report = {}
    try:
        state_path = home.root / "prefect" / "serve.json"
        _wait_for(state_path.exists, 180, "the serve state file", proc)
        assert json.loads(state_path.read_text())["ui_url"] == f"http://127.0.0.1:{port}"

        # One 10,000-row activities file.
        activities = frames["activities"]
        big = activities.sample(10_000, with_replacement=True, seed=1).with_columns(
            event_id=pl.format("drop-{}", pl.int_range(pl.len())))
        t0 = time.monotonic()
        _deliver(big, home.landing / "activities", "drop_big.csv")
        _wait_for(lambda: "activities/drop_big.csv" in _published_files(home), 120, "the big file", proc)
        report["latency_10k_s"] = round(time.monotonic() - t0, 2)

        # A burst of 20 files: queued, ingested in delivery order, none failed.
        names = [f"burst_{i:02d}.csv" for i in range(20)]
        t0 = time.monotonic()
        for i, name in enumerate(names):
            part = activities.sample(200, with_replacement=True, seed=100 + i).with_columns(
                event_id=pl.format(f"burst{i:02d}-{{}}", pl.int_range(pl.len())))
            _deliver(part, home.landing / "activities", name)
        wanted = {f"activities/{n}" for n in names}
        _wait_for(lambda: wanted <= set(_published_files(home)), 600, "the burst", proc)
        report["latency_burst_20_s"] = round(time.monotonic() - t0, 2)
        published = _published_files(home)
        assert all(published[f][1] == "loaded" for f in wanted)
        assert [f for f, _ in sorted(((f, published[f][0]) for f in wanted), key=lambda x: x[1])] == \
            sorted(wanted)  # ledger order = delivery order (mtime, then name)
        con = duckdb.connect(str(home.published), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM run_failures").fetchall()[0][0] == 0
            assert con.execute("SELECT count(*) FROM activities WHERE event_id LIKE 'burst%'").fetchall()[0][0] \
                == 20 * 200
        finally:
            con.close()

        # `orbit status` asks the server for the next nightly run: 02:00 in the plan's timezone.
        status = subprocess.run([sys.executable, "-m", "orbit", "status"], env=env, cwd=PACKAGE_ROOT,
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        next_line = next(line for line in status.stdout.splitlines() if "next nightly run" in line)
        assert " 02:00 -05 " in next_line, next_line
    finally:
        family = []
        if proc.poll() is None:
            family = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            for p in [psutil.Process(proc.pid), *family]:
                p.kill()
            raise
        print(f"\nserve measurements: {report}\n" + log_path.read_text()[-3000:])
    assert proc.returncode == 0
    assert family, "orbit serve had started no child process (the Prefect server)"
    left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"left running: {[p.cmdline() for p in left]}"
    assert not (home.root / "prefect" / "serve.json").exists()
