"""Small helpers shared by the flows: a run logger that also works outside a run, events."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from prefect.events import emit_event
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

log = logging.getLogger("orbit")


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return log


def emit(event: str, *, resource_id: str, payload: dict) -> None:
    """Emit a Prefect event (what `orbit serve`'s triggers listen to); never fails a run."""
    try:
        emit_event(event=event, resource={"prefect.resource.id": resource_id}, payload=payload)
    except Exception as e:  # noqa: BLE001 - an unreachable event sink must not fail a data run
        log.warning("could not emit %s: %s", event, e)


def content_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return h.hexdigest()


def plan_bytes(paths: list[Path]) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(paths))
