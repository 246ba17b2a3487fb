"""Orbit's ``flow`` and ``task`` decorators: Prefect flows and tasks, or plain calls in a one-off command.

Under `orbit serve` (and wherever a Prefect flow run is already going, or a caller asks for
Prefect) a decorated function is a real Prefect flow or task: runs, retries, logs and states in the
Prefect API and UI. A one-off CLI command with no Prefect API to report to has nothing to gain from
Prefect but its cost — importing it and starting a temporary API server took 7–9 s of every
`orbit export`, `close`, `reopen` or `evaluate`. Inside :func:`direct` the same functions are called
directly instead: same code, same order, the same retries (delays and retry conditions of the
task), parallel ``submit`` on a thread pool; Prefect is not even imported. The writer lock
(:func:`flows.common.writing_run`) is held in both modes.

Orbit's tasks never persist or cache results (they can hold compensation data), so the decorators
set ``persist_result=False`` and no cache policy on every task, and ``persist_result=False`` on flows.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("orbit")

#: ``cache_policy=NO_CACHE`` without importing Prefect (Prefect's ``NO_CACHE`` when the task is built).
NO_CACHE = "no-cache"

_DIRECT: contextvars.ContextVar[bool] = contextvars.ContextVar("orbit_direct", default=False)


@contextlib.contextmanager
def direct() -> Iterator[None]:
    """Run Orbit's flows and tasks as plain calls within the block (no Prefect API, no Prefect import)."""
    token = _DIRECT.set(True)
    try:
        yield
    finally:
        _DIRECT.reset(token)


def in_direct_mode() -> bool:
    return _DIRECT.get()


_stop_signal: int | None = None


def request_stop(signum: int) -> None:
    """SIGTERM or Ctrl-C arrived: the work is being abandoned, so no step is retried (DuckDB reports a
    signal during a query as its own error, which a retry would otherwise swallow)."""
    global _stop_signal
    _stop_signal = signum


def stop_requested() -> int | None:
    return _stop_signal


def prefect_wanted() -> bool:
    """Whether a one-off command should run through Prefect: only when a Prefect API is configured
    (``PREFECT_API_URL``), so that its runs show on that server. Otherwise it runs directly."""
    return bool(os.environ.get("PREFECT_API_URL"))


def in_flow_run() -> bool:
    """Whether this code runs inside a Prefect flow run (never true when Prefect was not imported)."""
    if "prefect.context" not in sys.modules:
        return False
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


class _Failed:
    """The little of a Prefect state a ``retry_condition_fn`` reads: ``result()`` raises the error."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def result(self, *args, **kwargs):
        raise self.error

    def is_failed(self) -> bool:
        return True


class _Step:
    """A function that is a Prefect flow/task, or a plain call under :func:`direct`."""

    kind = "task"

    def __init__(self, fn: Callable, options: dict[str, Any]) -> None:
        self.fn = fn
        self.options = options
        self.name = options.get("name") or fn.__name__
        functools.update_wrapper(self, fn)

    @functools.cached_property
    def prefect(self):
        """The real Prefect flow or task (built on first use; imports Prefect)."""
        if self.kind == "flow":
            from prefect import flow

            return flow(**{"persist_result": False, **self.options})(self.fn)
        from prefect import cache_policies, task

        options = {"persist_result": False, "cache_policy": NO_CACHE, **self.options}
        if options["cache_policy"] == NO_CACHE:
            options["cache_policy"] = cache_policies.NO_CACHE
        return task(**options)(self.fn)

    def with_options(self, **options) -> _Step:
        return type(self)(self.fn, {**self.options, **options})

    def __call__(self, *args, **kwargs):
        if _DIRECT.get():
            return self._call_directly(*args, **kwargs)
        return self.prefect(*args, **kwargs)

    def submit(self, *args, **kwargs):
        if _DIRECT.get():
            context = contextvars.copy_context()
            return _pool().submit(context.run, self._call_directly, *args, **kwargs)
        return self.prefect.submit(*args, **kwargs)

    def _call_directly(self, *args, **kwargs):
        retries = int(self.options.get("retries") or 0)
        delays = self.options.get("retry_delay_seconds") or 0
        condition = self.options.get("retry_condition_fn")
        for attempt in range(retries + 1):
            try:
                return self.fn(*args, **kwargs)
            except Exception as e:
                if (attempt == retries or _stop_signal is not None
                        or (condition is not None and not condition(self, None, _Failed(e)))):
                    raise
                delay = delays[min(attempt, len(delays) - 1)] if isinstance(delays, (list, tuple)) else delays
                log.warning("%s failed (%s: %s); retrying in %s s", self.name, type(e).__name__, e, delay)
                time.sleep(float(delay))

    def __getattr__(self, name: str):  # to_deployment, serve, ... : the Prefect object's
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.prefect, name)


class _Flow(_Step):
    kind = "flow"


def flow(fn: Callable | None = None, **options):
    """``prefect.flow`` (results never persisted), or a plain call under :func:`direct`."""
    if fn is None:
        return lambda f: _Flow(f, options)
    return _Flow(fn, options)


def task(fn: Callable | None = None, **options):
    """``prefect.task`` (results never persisted nor cached), or a plain call under :func:`direct`."""
    if fn is None:
        return lambda f: _Step(f, options)
    return _Step(fn, options)


@functools.lru_cache(maxsize=1)
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(thread_name_prefix="orbit-task")
