"""Ingesting a source's files (``landing/<source>/``, read through ``$ORBIT_HOME/sources/<source>.yaml``).

Thin: the warehouse loads each file's feeds in one transaction (:func:`warehouse.sources.load_source_file`).
A refused mapping (invalid, or not fitting the file's header) leaves the file waiting in landing
with the reason ledgered (status ``waiting``: `orbit ingest` and `orbit status` show it); a file
that cannot be read is rejected and moved like any other.
"""

from __future__ import annotations

import datetime as dt

from flows.engine import NO_CACHE, task
from flows.retry import IO_RETRIES
from schemas.contracts import DATASETS
from schemas.plan import PlanSet
from schemas.sources import MappingError, Source
from schemas.suites import suite_rules
from warehouse.db import open_warehouse, transaction
from warehouse.home import Home
from warehouse.landing import LandedFile, RejectedFile, rejected_target
from warehouse.load import LedgerEntry, cap_memory, log_entry
from warehouse.sources import Delivered, MappingRefused, delivery_state, load_source_file, log_waiting

_TASK = dict(persist_result=False, cache_policy=NO_CACHE)


@task(**IO_RETRIES, **_TASK)
def ingest_source_file(home: Home, landed: LandedFile, sha: str, plans: PlanSet, now: dt.datetime,
                       source: Source) -> list[LedgerEntry]:
    """Load one source file through its mapping (one ledger row per feed), or ledger why it waits or is
    rejected."""
    entry = LedgerEntry(landed.name, None, sha, 0, 0, 0, 0, "rejected", None, landed.mtime,
                        mapping_sha256=source.sha256)
    base = plans.base

    def rules_for(dataset: str):
        return suite_rules(DATASETS[dataset], departments=plans.departments, currency=base.currency, now=now)

    with open_warehouse(home.warehouse) as con:
        cap_memory(con)
        try:
            return load_source_file(con, entry, landed.path, source, rules_for, base.timezone)
        except MappingRefused as e:
            waiting = log_waiting(con, entry, f"waiting: the mapping does not fit this file:\n{e}")
            return [waiting] if waiting else []
        except RejectedFile as e:
            target = rejected_target(home.quarantine, landed.path).relative_to(home.root)
            rejected = LedgerEntry(**{**entry.__dict__, "message": f"{e} (moved to {target})",
                                      "quarantined_to": str(target)})
            with transaction(con):
                return [log_entry(con, rejected)]


@task(**_TASK)
def refuse_source_file(home: Home, landed: LandedFile, sha: str, error: MappingError) -> list[LedgerEntry]:
    """A file of a source whose mapping is invalid: it waits, the reason ledgered (once)."""
    entry = LedgerEntry(landed.name, None, sha, 0, 0, 0, 0, "waiting", None, landed.mtime)
    with open_warehouse(home.warehouse) as con:
        waiting = log_waiting(con, entry, f"waiting: the mapping is refused:\n{error}")
    return [waiting] if waiting else []


@task(**_TASK)
def skip_source_copy(home: Home, landed: LandedFile, sha: str, source: Source, delivered: Delivered) \
        -> list[LedgerEntry]:
    """The same content already loaded with the same mapping under another name: ledgered and skipped."""
    with open_warehouse(home.warehouse) as con, transaction(con):
        return [log_entry(con, LedgerEntry(
            landed.name, None, sha, 0, 0, 0, 0, "duplicate_file",
            f"same content as {', '.join(sorted(delivered.files))}; skipped", landed.mtime,
            mapping_sha256=source.sha256))]


def ingest_source(home: Home, landed: LandedFile, sha: str, plans: PlanSet, now: dt.datetime,
                  source: Source | MappingError, delivered: dict[str, Delivered], logger) -> list[LedgerEntry]:
    """What to do with one file of a source: load it, leave it (already loaded), skip a copy, or let it wait."""
    if isinstance(source, MappingError):
        return refuse_source_file(home, landed, sha, source)
    state = delivery_state(delivered.get(sha), landed.name, landed.mtime, source.sha256)
    if state == "loaded":
        return []
    if state == "loaded_earlier":
        logger.info("%s was loaded under an earlier version of %s; its rows stay as loaded (deliver the file "
                    "again to load it under the new mapping)", landed.name, source.path.name)
        return []
    if state == "copy":
        return skip_source_copy(home, landed, sha, source, delivered[sha])
    entries = ingest_source_file(home, landed, sha, plans, now, source)
    if any(e.status == "loaded" for e in entries):
        d = delivered.setdefault(sha, Delivered({}, set()))
        d.files.setdefault(landed.name, set()).add(landed.mtime)
        d.mappings.add(source.sha256)
    return entries
