"""One writer per ORBIT_HOME: an OS file lock on ``$ORBIT_HOME/.writer.lock``.

Every run that writes a home's warehouse (ingest, evaluate, publish, close, reopen, export, and
the runs `orbit serve` triggers) holds this lock for its whole duration, whichever process
started it and whichever Prefect API (if any) it talks to. It is a ``flock`` on an open file
description, so the kernel frees it the instant its holder dies — SIGKILL, OOM kill, a container
stop — and the next writer starts within one poll interval. Homes never share a lock.

A writer that finds the lock taken says who holds it (pid, verb and since when: the holder writes
them into the lock file) and waits, polling, so that SIGTERM or Ctrl-C end a waiting command at
once. Within one process the lock is reentrant for the thread that holds it (a CLI verb that
checks its arguments under the lock, then runs the flow that takes it again); another thread of
the same process waits like another process would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = ".writer.lock"
#: How often a waiting writer tries again (the lock is free the moment its holder exits or dies).
POLL_SECONDS = 0.1


@dataclass
class _Held:
    fd: int
    owner: int  # thread ident
    depth: int


_held: dict[Path, _Held] = {}
_guard = threading.Lock()
_threads: dict[Path, threading.Lock] = {}


def lock_path(root: Path) -> Path:
    return Path(root) / LOCK_NAME


def holder(root: Path) -> str | None:
    """Who holds (or last held) the writer lock: ``pid <n> (<verb>) since <time>``, if written."""
    try:
        text = lock_path(root).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    parts = text.split(" ", 2)
    if len(parts) != 3:
        return None
    pid, verb, since = parts
    return f"pid {pid} ({verb}) since {since}"


@contextlib.contextmanager
def writer_lock(root: Path, verb: str, *, on_wait: Callable[[str], None] | None = None,
                poll: float = POLL_SECONDS, timeout: float | None = None) -> Iterator[bool]:
    """Hold the writer lock of the home at ``root`` for the ``with`` block (waiting for it if needed);
    yields True when this call took the lock, False when this thread already held it.

    ``on_wait`` is told once who holds the lock when this writer has to wait (default: a log line).
    ``timeout`` (seconds) raises :class:`TimeoutError` instead of waiting longer.
    """
    root = Path(root).resolve()
    me = threading.get_ident()
    with _guard:
        held = _held.get(root)
        if held is not None and held.owner == me:
            held.depth += 1
            reentered = True
        else:
            reentered = False
            thread_lock = _threads.setdefault(root, threading.Lock())
    if reentered:
        try:
            yield False
        finally:
            with _guard:
                held.depth -= 1
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    _wait_for_thread_lock(thread_lock, root, deadline, poll)
    try:
        fd = _acquire(root, verb, on_wait, poll, deadline)
    except BaseException:
        thread_lock.release()
        raise
    with _guard:
        _held[root] = _Held(fd, me, 1)
    try:
        yield True
    finally:
        with _guard:
            del _held[root]
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            thread_lock.release()


def _wait_for_thread_lock(lock: threading.Lock, root: Path, deadline: float | None, poll: float) -> None:
    while not lock.acquire(timeout=poll):
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"the writer lock of {root} is held by another thread of this process")


def _acquire(root: Path, verb: str, on_wait, poll: float, deadline: float | None) -> int:
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(root), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            if not told:
                who = holder(root) or "another writer"
                message = f"waiting for the writer of {root}: {who}"
                (on_wait or log.warning)(message)
                told = True
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the writer lock of {root} is held by {holder(root) or 'another writer'}")
            time.sleep(poll)
        since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {verb.replace(' ', '-')} {since}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise
