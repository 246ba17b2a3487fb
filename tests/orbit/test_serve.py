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


def test_a_source_folder_with_a_mapping_is_watched(landing):
    tracker = ArrivalTracker(landing, SETTLE)
    (landing.parent / "sources").mkdir()
    (landing.parent / "sources" / "crm.yaml").write_text("feeds: []\n")
    (landing / "crm").mkdir()
    (landing / "other").mkdir()
    export = _write(landing / "crm" / "export.csv", "Id\n1\n")
    tracker.observe(export, 0.0)
    tracker.observe(_write(landing / "other" / "export.csv", "Id\n1\n"), 0.0)  # no mapping: not a source
    assert tracker.due(100.0) == [export]


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


def _cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orbit", *args], env=env, cwd=PACKAGE_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _ui_dom(url: str, tmp_path: Path) -> str:
    """The Prefect UI page as headless Chromium renders it (network limited to this machine)."""
    import shutil

    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Chromium is not installed: `make browser` (run by `make test`) installs Debian's `chromium`")
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",  # loopback bypasses the dead proxy
         "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=180, check=True).stdout


def _server_runs(api_url: str) -> list[tuple[str, str]]:
    import httpx

    runs = httpx.post(f"{api_url}/flow_runs/filter", json={"limit": 200}, timeout=30).json()
    return [(r["name"], r["state_type"]) for r in runs]


def _modes(home: Home) -> dict[str, int]:
    parts = {
        "warehouse": home.warehouse, "landing": home.landing, "landing/activities": home.landing / "activities",
        "quarantine": home.quarantine, "exports": home.exports, "prefect": home.root / "prefect",
        "published": home.published.parent, "snapshot": home.published,
        "parquet": home.published.parent / "parquet", "parquet file": home.published.parent / "parquet" /
        "employee_scores.parquet",
    }
    return {name: path.stat().st_mode & 0o777 for name, path in parts.items() if path.exists()}


PRIVATE = {"warehouse": 0o600, "landing": 0o700, "landing/activities": 0o700, "quarantine": 0o700,
           "exports": 0o700, "prefect": 0o700}
PUBLIC = {"published": 0o755, "snapshot": 0o644, "parquet": 0o755, "parquet file": 0o644}


@pytest.mark.slow
def test_serve_ui_events_in_seconds_and_writers_from_everywhere(default_plans, tmp_path):
    """`orbit serve` on a port of its own: the UI asks for its API on that port and lists the three
    deployments; a dropped file is published within seconds; a burst of 20 files while three CLI writers
    run in other terminals: no failed run, every file ingested once, in delivery order; the home stays
    owner-only but for published/; Ctrl-C stops everything."""
    import httpx

    from orbit.synth import generate_org

    home = Home(tmp_path / "home")
    frames = generate_org(employees=20, months=3, seed=5, end_date=END, plan=default_plans.base)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # never the test harness's server
    env.update(ORBIT_HOME=str(home.root), PREFECT_HOME=str(tmp_path / "prefect-client"), PREFECT_LOGGING_LEVEL="WARNING",
               DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", GX_ANALYTICS_ENABLED="false")
    seed = subprocess.run([sys.executable, "-m", "orbit", "generate", "--employees", "20", "--months", "3",
                           "--seed", "5", "--end-date", END.isoformat()], env=env, cwd=PACKAGE_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert seed.returncode == 0, seed.stderr
    seeded = subprocess.run([sys.executable, "-m", "orbit", "run"], env=env, cwd=PACKAGE_ROOT, capture_output=True,
                            text=True, timeout=300)  # one-off, no Prefect API: seeded and published
    assert seeded.returncode == 0, seeded.stderr

    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "orbit", "serve", "--port", str(port)], env=env,
                                cwd=PACKAGE_ROOT, stdout=out, stderr=subprocess.STDOUT)
    report = {}
    try:
        state_path = home.root / "prefect" / "serve.json"
        _wait_for(state_path.exists, 180, "the serve state file", proc)
        state = json.loads(state_path.read_text())
        assert state["ui_url"] == f"http://127.0.0.1:{port}"
        api = state["api_url"]

        # The UI asks for its API on this port (not Prefect's default 4200) and lists the deployments.
        assert httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=30).json()["api_url"] == \
            f"http://127.0.0.1:{port}/api"
        dom = _ui_dom(f"http://127.0.0.1:{port}/deployments", tmp_path)
        for name in ("nightly", "ingest-on-arrival", "evaluate-on-change"):
            assert name in dom, f"deployment {name} not listed by the UI"
        assert "Create a deployment to get started" not in dom

        # One 10,000-row activities file.
        activities = frames["activities"]
        big = activities.sample(10_000, with_replacement=True, seed=1).with_columns(
            event_id=pl.format("drop-{}", pl.int_range(pl.len())))
        t0 = time.monotonic()
        _deliver(big, home.landing / "activities", "drop_big.csv")
        _wait_for(lambda: "activities/drop_big.csv" in _published_files(home), 120, "the big file", proc)
        report["latency_10k_s"] = round(time.monotonic() - t0, 2)
        modes = _modes(home)
        assert {k: modes.get(k) for k in PRIVATE} == PRIVATE
        assert {k: modes.get(k) for k in PUBLIC} == PUBLIC

        # A burst of 20 files while three writers run from other terminals (no Prefect API: one-off runs).
        names = [f"burst_{i:02d}.csv" for i in range(20)]
        writers = [_cli(["run"], env), _cli(["evaluate", "--period", "2026-Q3"], env),
                   _cli(["export", "bonus", "--period", "2026-Q3", "--draft"], env)]
        t0 = time.monotonic()
        for i, name in enumerate(names):
            part = activities.sample(200, with_replacement=True, seed=100 + i).with_columns(
                event_id=pl.format(f"burst{i:02d}-{{}}", pl.int_range(pl.len())))
            _deliver(part, home.landing / "activities", name)
        wanted = {f"activities/{n}" for n in names}
        _wait_for(lambda: wanted <= set(_published_files(home)), 600, "the burst", proc)
        report["latency_burst_20_s"] = round(time.monotonic() - t0, 2)
        for w in writers:
            out, _ = w.communicate(timeout=600)
            assert w.returncode == 0, out
        published = _published_files(home)
        assert all(published[f][1] == "loaded" for f in wanted)
        assert [f for f, _ in sorted(((f, published[f][0]) for f in wanted), key=lambda x: x[1])] == \
            sorted(wanted)  # ledger order = delivery order (mtime, then name)
        con = duckdb.connect(str(home.published), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM run_failures").fetchall()[0][0] == 0
            assert con.execute("SELECT file, count(*) FROM ingestion_log GROUP BY file HAVING count(*) > 1"
                               ).fetchall() == []  # every file ingested once
            assert con.execute("SELECT count(*) FROM activities WHERE event_id LIKE 'burst%'").fetchall()[0][0] \
                == 20 * 200
        finally:
            con.close()
        runs = _server_runs(api)
        assert runs and not [r for r in runs if r[1] in ("FAILED", "CRASHED")], runs

        # `orbit status` asks the server for the next nightly run: 02:00 in the plan's timezone.
        status = subprocess.run([sys.executable, "-m", "orbit", "status"], env=env, cwd=PACKAGE_ROOT,
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        next_line = next(line for line in status.stdout.splitlines() if "next nightly run" in line)
        assert " 02:00 -05 " in next_line, next_line
        assert "on-arrival (in orbit serve)" in status.stdout and "COMPLETED" in status.stdout.upper()
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
