"""`orbit serve`: a local Prefect server, Orbit's deployments and the landing-zone watcher, in one command.

1. Unless ``PREFECT_API_URL`` names a healthy Prefect server, start one: ``prefect server start
   --host 127.0.0.1 --port N`` as a child process, with ``PREFECT_HOME`` (and its SQLite database)
   under ``$ORBIT_HOME/prefect``; wait for ``/api/health``.
2. Serve the deployments of :mod:`flows.deployments` (``prefect.serve``) with a runner limit of
   two runs in flight (one writing, the next one waiting for the home's writer lock), so triggered
   runs execute in the order they were scheduled.
3. Watch ``landing/<dataset>/`` and, once a file is complete (:class:`ArrivalTracker` has the rule),
   ingest it in this process (:class:`ArrivalWorker`): with every file waiting, evaluate, publish.

Ctrl-C (SIGINT) or SIGTERM stops the runner, the watcher and the server it started, in that order.
While serving, ``$ORBIT_HOME/prefect/serve.json`` says where the API is (``orbit status`` reads it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from schemas.contracts import DATASETS
from warehouse.home import Home
from warehouse.landing import DONE_MARKER, IGNORED_SUFFIXES, SETTLE_SECONDS

log = logging.getLogger(__name__)

#: Seconds a delivered file's size and modification time must stay unchanged before it counts as complete.
DEFAULT_SETTLE_SECONDS = SETTLE_SECONDS
#: How often the runner asks the server for runs to start (Prefect's default is 10 s).
DEFAULT_POLL_SECONDS = 1
#: Runs in flight: the one holding the home's writer lock and the next one, started (imports and all)
#: while it waits for the lock. The runner starts runs in scheduled order, so they keep their order.
RUNNER_LIMIT = 2
#: Names a file has while it is being written (never announced; their disappearance means a rename).
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial")
SERVER_START_TIMEOUT = 120.0


class ServeError(Exception):
    """`orbit serve` cannot start; the message says what to do."""


# --------------------------------------------------------------------------- completeness rule
@dataclass
class _Pending:
    signature: tuple[int, int]  # (size, mtime_ns)
    since: float  # when that signature was first seen
    marked: bool = False  # renamed into place, or a `<name>.done` marker was seen


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if path.is_file() else None


class ArrivalTracker:
    """When a file delivered into ``landing/<dataset>/`` is complete (the rule `orbit serve` applies).

    - Names that are still being written are never considered: dotfiles and ``*.tmp``, ``*.part``,
      ``*.partial`` (the names `orbit ingest` skips too), and ``*.done`` / ``*.reason`` markers.
    A file is complete

    - at once when it was renamed into place: its final name appeared in the same batch of
      filesystem events in which a temporary name of the same folder disappeared, with no write
      to the final name (:meth:`observe_batch`) — the safe way to deliver; or
    - at once when a ``<name>.done`` marker exists beside it; or
    - once it is non-empty and its size and modification time have stayed the same for
      ``settle_seconds``, checked with a fresh ``stat`` when it falls due (any change restarts the
      wait). This catches most in-place copies, but a writer that writes the final name in place
      and pauses longer than ``settle_seconds`` mid-file must rename or use the marker instead.

    Time is passed in (``now``, any monotonic clock), so the rule is testable without sleeping.
    """

    def __init__(self, landing: Path, settle_seconds: float = DEFAULT_SETTLE_SECONDS) -> None:
        self.landing = landing
        self.settle = settle_seconds
        self._pending: dict[Path, _Pending] = {}

    def deliverable(self, path: Path) -> bool:
        folder = path.parent.name  # a dataset's folder, or a source's (its mapping in sources/<name>.yaml)
        return (path.parent.parent == self.landing
                and (folder in DATASETS or (self.landing.parent / "sources" / f"{folder}.yaml").is_file())
                and not path.name.startswith(".") and not path.name.endswith(IGNORED_SUFFIXES))

    def _temporary(self, path: Path) -> bool:
        return path.name.startswith(".") or path.name.endswith(TEMPORARY_SUFFIXES)

    def observe_batch(self, changes: Iterable[tuple[str, Path]], now: float) -> None:
        """One batch of filesystem events: (``added`` | ``modified`` | ``deleted``, path)."""
        changes = list(changes)
        written = {p for kind, p in changes if kind == "modified"}
        renamed_from = {p.parent for kind, p in changes if kind == "deleted" and self._temporary(p)}
        for kind, path in changes:
            renamed_in = kind == "added" and path.parent in renamed_from and path not in written
            self.observe(path, now, complete=renamed_in)

    def observe(self, path: Path, now: float, *, complete: bool = False) -> None:
        """Something changed at ``path`` (created, written, renamed in or out, deleted, a marker)."""
        marked = complete or path.name.endswith(DONE_MARKER)
        if path.name.endswith(DONE_MARKER):
            if not path.exists():
                return
            path = path.with_name(path.name[: -len(DONE_MARKER)])
        if not self.deliverable(path):
            return
        signature = _signature(path)
        if signature is None:
            self._pending.pop(path, None)
            return
        known = self._pending.get(path)
        if known is None or known.signature != signature:
            self._pending[path] = _Pending(signature, now, marked or bool(known and known.marked))
        elif marked:
            known.marked = True

    def due(self, now: float) -> list[Path]:
        """Files complete at ``now``, in ledger order (modification time, then name); each is returned once
        (until it changes again)."""
        ready = []
        for path, p in list(self._pending.items()):
            signature = _signature(path)
            if signature is None:
                del self._pending[path]
            elif p.marked or (signature == p.signature and signature[0] > 0 and now - p.since >= self.settle):
                ready.append((signature[1], f"{path.parent.name}/{path.name}", path))
                del self._pending[path]
            elif signature != p.signature:
                self._pending[path] = _Pending(signature, now)  # still being written
        return [path for *_, path in sorted(ready)]

    @property
    def waiting(self) -> list[Path]:
        return sorted(self._pending)


class LandingWatcher:
    """A thread that feeds filesystem changes under landing/ to an :class:`ArrivalTracker` and calls
    ``announce(path)`` for each file that becomes complete."""

    def __init__(self, home: Home, announce: Callable[[Path], None], settle_seconds: float = DEFAULT_SETTLE_SECONDS,
                 initial: Iterable[Path] = ()) -> None:
        self.tracker = ArrivalTracker(home.landing, settle_seconds)
        self.home = home
        self.announce = announce
        self.initial = list(initial)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LandingWatcher:
        ready = threading.Event()
        context = contextvars.copy_context()  # Prefect's settings (the API URL) live in context variables
        self._thread = threading.Thread(target=context.run, args=(self._loop, ready), name="orbit-landing-watcher",
                                        daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self, ready: threading.Event) -> None:
        import watchfiles

        now = time.monotonic()
        for path in self.initial:
            self.tracker.observe(path, now)
        changes_seen = watchfiles.watch(self.home.landing, stop_event=self._stop, yield_on_timeout=True,
                                        rust_timeout=250, debounce=400, step=50, raise_interrupt=False)
        ready.set()
        for changes in changes_seen:
            now = time.monotonic()
            self.tracker.observe_batch(((change.name, Path(name)) for change, name in changes), now)
            for path in self.tracker.due(now):
                try:
                    self.announce(path)
                except Exception:  # noqa: BLE001 - one bad announcement must not stop the watcher
                    log.exception("could not announce %s", path)


class ArrivalWorker:
    """Ingests complete files in this process, as soon as the watcher hands them over: one run at a time,
    each folding every file waiting into one ingest + evaluate + publish (``ingest_file_flow``, a Prefect
    flow run reported to the server like any other, holding the home's writer lock).

    Why in this process rather than through an event, an automation and a deployment run: that round trip
    costs an automation (~1–2 s) and a fresh Python process per run (imports, flow loading, engine start:
    2–4 s on a quiet 2-core machine, 20 s under load), before any work. Here the modules are loaded once.
    """

    def __init__(self, home: Home, plan_file: Path) -> None:
        import queue

        self.home = home
        self.plan_file = Path(plan_file).resolve()
        self.queue: queue.Queue[Path] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> ArrivalWorker:
        context = contextvars.copy_context()  # Prefect's settings (the API URL) live in context variables
        self._thread = threading.Thread(target=context.run, args=(self._loop,), name="orbit-arrivals", daemon=True)
        self._thread.start()
        return self

    def submit(self, path: Path) -> None:
        log.info("arrived: %s/%s", path.parent.name, path.name)
        self.queue.put(path)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking files; give a run in progress ``timeout`` seconds to end (one that does not is cut
        off with the process: its transaction never commits, as if it had been killed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        import queue

        from flows.deployments import ingest_file_flow
        from warehouse.landing import list_landed

        while not self._stop.is_set():
            try:
                batch = [self.queue.get(timeout=0.25)]
            except queue.Empty:
                continue
            while True:  # fold everything waiting into this run
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            names = {f"{p.parent.name}/{p.name}" for p in batch}
            order = [f.name for f in list_landed(self.home.landing) if f.name in names]
            if not order:
                continue  # gone meanwhile
            try:
                ingest_file_flow(order[-1], str(self.home.root), str(self.plan_file))  # and all before it
            except Exception:  # noqa: BLE001 - recorded in run_failures and the flow run; keep serving
                log.exception("the run for %s failed", ", ".join(order))
            self.runs += 1


def not_yet_ingested(home: Home) -> list[Path]:
    """Delivered files that the published ledger does not list (delivered while `orbit serve` was down)."""
    from warehouse.landing import list_landed
    from warehouse.snapshot import ledgered_files

    known = ledgered_files(home.published)
    return [f.path for f in list_landed(home.landing) if f.dataset and f.name not in known]


# --------------------------------------------------------------------------- the Prefect server
def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if `orbit serve` itself is killed (-9) before it can stop it."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalServer:
    """``prefect server start`` on 127.0.0.1 as a child process, its state under ``$ORBIT_HOME/prefect``."""

    def __init__(self, home: Home, port: int) -> None:
        self.folder = home.root / "prefect"
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        if not _port_free(self.port):
            raise ServeError(f"port {self.port} on 127.0.0.1 is in use (another `orbit serve`?); "
                             "choose another with --port, or point PREFECT_API_URL at a running Prefect server")
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update({
            "PREFECT_HOME": str(self.folder),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.folder / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            # the UI asks its API where /ui-settings says: this server's port, not Prefect's default 4200
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_UI_API_URL": self.api_url,
        })
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches `orbit serve`, which stops the server last
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        deadline = time.monotonic() + timeout
        while not api_healthy(self.api_url, timeout=1.0):
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace").splitlines()[-15:]
                raise ServeError(f"the Prefect server exited (status {self.process.returncode}); "
                                 f"its log ({self.log_file}) ends with:\n" + "\n".join(tail))
            if time.monotonic() > deadline:
                self.stop()
                raise ServeError(f"the Prefect server did not become healthy in {timeout:.0f} s; see {self.log_file}")
            time.sleep(0.25)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started (SIGTERM, then SIGKILL after ``timeout``)."""
        import psutil

        if self.process is None or self.process.poll() is not None:
            return
        try:
            parent = psutil.Process(self.process.pid)
            family = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for p in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.terminate()
        _, alive = psutil.wait_procs(family, timeout=timeout)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        self.process.wait(5)


# --------------------------------------------------------------------------- serve state (for `orbit status`)
def state_file(home: Home) -> Path:
    return home.root / "prefect" / "serve.json"


def read_state(home: Home) -> dict | None:
    try:
        return json.loads(state_file(home).read_text())
    except (OSError, ValueError):
        return None


def find_api(home: Home) -> str | None:
    """The API of a Prefect server that is up: ``PREFECT_API_URL``, else the one `orbit serve` recorded."""
    state = read_state(home) or {}
    for url in (os.environ.get("PREFECT_API_URL"), state.get("api_url")):
        if url and api_healthy(url, timeout=1.0):
            return url
    return None


@dataclass(frozen=True)
class ServerView:
    """What the Prefect server knows that the snapshot does not."""

    next_nightly: dt.datetime | None  # in the schedule's timezone
    recent: list[tuple[str, str, dt.datetime | None]]  # (deployment flow run name, state, start)


def read_server_view(api_url: str, limit: int = 5) -> ServerView:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterParentTaskRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import DEPLOYMENT_NAMES

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        ids, flows, nightly, tz = {}, set(), None, "UTC"
        for name in DEPLOYMENT_NAMES:
            with contextlib.suppress(ObjectNotFound):
                d = client.read_deployment_by_name(name)
                ids[d.id] = name.split("/")[1]
                flows.add(d.flow_id)
                if name == DEPLOYMENT_NAMES[0]:
                    nightly = d
                    tz = next((s.schedule.timezone for s in d.schedules if getattr(s.schedule, "timezone", None)),
                              "UTC")
        next_run = None
        if nightly is not None:
            scheduled = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[nightly.id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1)
            if scheduled:
                from zoneinfo import ZoneInfo

                next_run = scheduled[0].expected_start_time.astimezone(ZoneInfo(tz))
        recent = []
        if flows:  # the deployments' runs and the arrival runs `orbit serve` makes in its own process
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(id=FlowFilterId(any_=list(flows))),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])),
                    parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True)),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
            recent = [(ids.get(r.deployment_id, "on-arrival (in orbit serve)"), r.state.name if r.state else "?",
                       r.start_time) for r in runs]
    return ServerView(next_run, recent)


# --------------------------------------------------------------------------- serve
def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve_orbit(home: Home, plans, plan_file: Path, port: int, *, echo: Callable[[str], None] = print,
                settle_seconds: float = DEFAULT_SETTLE_SECONDS) -> None:
    """Run until Ctrl-C / SIGTERM; everything started here is stopped before returning."""
    signal.signal(signal.SIGTERM, _interrupt)  # until Prefect's runner installs its own (which exits cleanly)
    server: LocalServer | None = None
    watcher: LandingWatcher | None = None
    worker: ArrivalWorker | None = None
    try:
        api_url = os.environ.get("PREFECT_API_URL")
        if api_url:
            if not api_healthy(api_url):
                raise ServeError(f"PREFECT_API_URL={api_url} does not answer; start that Prefect server, "
                                 "or unset PREFECT_API_URL and `orbit serve` starts one")
            echo(f"Using the Prefect server at {api_url}")
        else:
            server = LocalServer(home, port)
            echo(f"Starting a Prefect server on 127.0.0.1:{port} (database and log in {server.folder}) ...")
            server.start()
            api_url = server.api_url
        os.environ["PREFECT_API_URL"] = api_url  # inherited by the flow-run processes the runner starts

        from prefect.exceptions import TerminationSignal
        from prefect.runner import Runner
        from prefect.settings import PREFECT_API_URL, PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

        from flows.deployments import build_deployments

        poll = int(os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", DEFAULT_POLL_SECONDS))
        with temporary_settings({PREFECT_API_URL: api_url, PREFECT_RUNNER_POLL_FREQUENCY: poll}):
            runner = Runner(limit=RUNNER_LIMIT, pause_on_shutdown=True)  # what prefect.serve() builds
            deployments = build_deployments(home, plans, plan_file)
            for deployment in deployments:
                runner.add_deployment(deployment)  # registered now, with its triggers: events from here on count
            worker = ArrivalWorker(home, plan_file).start()
            watcher = LandingWatcher(home, worker.submit, settle_seconds,
                                     initial=not_yet_ingested(home)).start()
            ui = api_url.rstrip("/").removesuffix("/api")
            state_file(home).parent.mkdir(parents=True, exist_ok=True)
            state_file(home).write_text(json.dumps({"api_url": api_url, "ui_url": ui, "pid": os.getpid(),
                                                    "started_at": dt.datetime.now(dt.timezone.utc).isoformat()}))
            tz = plans.base.timezone
            echo(f"Prefect UI: {ui}\n"
                 f"Serving {len(deployments)} deployments: nightly (02:00 {tz}), ingest-on-arrival, evaluate-on-change\n"
                 f"Watching {home.landing}/<dataset>/ (a file counts once renamed into place, or with a .done marker)\n"
                 "Press Ctrl-C to stop.")
            try:
                asyncio.run(runner.start())
            except TerminationSignal:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        if watcher is not None:
            watcher.stop()
        if worker is not None:
            worker.stop()
        if server is not None:
            server.stop()
        state_file(home).unlink(missing_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        echo("orbit serve stopped")
