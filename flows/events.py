"""Orbit's Prefect events: their names (what `orbit serve`'s triggers expect), the resources they name,
the label that scopes them to one ORBIT_HOME, and emitting them.

- :data:`FILE_ARRIVED`: a delivered file is complete (sent by whatever delivers files, payload
  ``{"file": "<dataset>/<name>"}``); triggers ``ingest-on-arrival``.
- :data:`DATASET_UPDATED`: an ingestion loaded new or changed rows, with the periods they touch;
  triggers ``evaluate-on-change``.
"""

from __future__ import annotations

import logging

from flows.engine import in_direct_mode

log = logging.getLogger("orbit")

FILE_ARRIVED = "orbit.landing.file.arrived"
DATASET_UPDATED = "orbit.dataset.updated"


def home_label(home) -> dict[str, str]:
    """The resource label that scopes Orbit's events (and `orbit serve`'s triggers) to one ORBIT_HOME."""
    return {"orbit.home": str(home.root)}


def dataset_resource(dataset: str) -> str:
    """The resource of a :data:`DATASET_UPDATED` event: ``orbit.dataset.<dataset>``."""
    return f"orbit.dataset.{dataset}"


def emit(event: str, *, resource_id: str, payload: dict, labels: dict[str, str] | None = None) -> None:
    """Emit a Prefect event (what `orbit serve`'s triggers listen to); never fails a run. A one-off
    command running without Prefect (:func:`flows.engine.direct`) has no API to emit to: nothing is sent."""
    if in_direct_mode():
        return
    from prefect.events import emit_event

    try:
        emit_event(event=event, resource={"prefect.resource.id": resource_id, **(labels or {})}, payload=payload)
    except Exception as e:  # noqa: BLE001 - an unreachable event sink must not fail a data run
        log.warning("could not emit %s: %s", event, e)


def dataset_updated(home, dataset: str, periods: list[str] | None) -> None:
    """Emit :data:`DATASET_UPDATED` for ``dataset`` with the periods its new rows touch (None: every period)."""
    emit(DATASET_UPDATED, resource_id=dataset_resource(dataset), labels=home_label(home),
         payload={"dataset": dataset, "periods": periods})
