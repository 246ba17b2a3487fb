"""The home's writer lock: one writer per ORBIT_HOME, freed the moment its holder dies, never shared by homes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from warehouse.lock import holder, lock_path, writer_lock

HOLDER = textwrap.dedent("""
    import sys, time
    from warehouse.lock import writer_lock
    with writer_lock(sys.argv[1], "run"):
        print("held", flush=True)
        time.sleep(600)
""")


def _hold_in_another_process(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_waits_saying_who_holds_the_lock_and_starts_the_moment_the_holder_is_killed(tmp_path):
    root = tmp_path / "home"
    proc = _hold_in_another_process(root)
    told: list[str] = []
    try:
        with pytest.raises(TimeoutError):
            with writer_lock(root, "export", on_wait=told.append, timeout=0.5):
                pass
        assert len(told) == 1 and f"pid {proc.pid} (run)" in told[0] and str(root) in told[0]
        assert holder(root).startswith(f"pid {proc.pid} (run) since ")
        killed_at = {}

        def kill() -> None:
            time.sleep(0.5)
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at["t"] = time.monotonic()

        threading.Thread(target=kill).start()
        with writer_lock(root, "export", timeout=30):
            waited = time.monotonic() - killed_at["t"]
            assert holder(root).startswith(f"pid {os.getpid()} (export)")
    finally:
        proc.kill()
        proc.wait()
    assert waited < 1.0  # the kernel frees a dead holder's lock at once; the waiter polls every 0.1 s


def test_homes_never_wait_for_each_other(tmp_path):
    proc = _hold_in_another_process(tmp_path / "one")
    try:
        t = time.monotonic()
        with writer_lock(tmp_path / "two", "run", timeout=5):
            pass
        assert time.monotonic() - t < 1.0
    finally:
        proc.kill()
        proc.wait()


def test_reentrant_in_one_thread_exclusive_between_threads(tmp_path):
    root = tmp_path / "home"
    entered = threading.Event()
    with writer_lock(root, "close") as outer:
        with writer_lock(root, "close") as inner:  # a verb holding the lock runs a flow that takes it again
            assert (outer, inner) == (True, False)

        def other() -> None:
            with writer_lock(root, "run"):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.5)  # another thread of the same process waits
    assert entered.wait(10)
    thread.join()


def test_the_lock_file_is_owner_only(tmp_path):
    with writer_lock(tmp_path / "home", "run"):
        pass
    assert lock_path(tmp_path / "home").stat().st_mode & 0o777 == 0o600
