"""Ingest flow: every new file in ``landing/<dataset>/`` validated, loaded, quarantined, logged.

Thin orchestration: one warehouse transaction per file (read, cast, validate, de-duplicate,
load, quarantine, ledger row: :func:`warehouse.load.load_file`), retried on I/O errors only.
A file that cannot be ingested is ledgered as ``rejected`` first and moved to
``quarantine/files/`` after the commit; a run that finds a file ledgered as rejected but still
in landing (a crash came in between) finishes the move.
"""

from __future__ import annotations

import datetime as dt
import logging

from flows.common import run_logger
from flows.engine import NO_CACHE, flow, task
from flows.events import dataset_updated
from flows.retry import IO_RETRIES
from flows.sources import ingest_source
from schemas.contracts import DATASETS
from schemas.plan import PlanSet
from schemas.suites import suite_rules
from warehouse.db import open_warehouse, transaction
from warehouse.home import Home
from warehouse.landing import LandedFile, RejectedFile, list_landed, move_rejected, rejected_target, sha256_of
from warehouse.load import LedgerEntry, cap_memory, ingested_hashes, load_file, log_entry, pending_moves
from warehouse.read import touched_periods
from warehouse.sources import delivered_sources, load_sources

# Task results may hold compensation data: never persisted, never cached.
_TASK = dict(persist_result=False, cache_policy=NO_CACHE)


@task(**IO_RETRIES, **_TASK)
def ingest_file(home: Home, landed: LandedFile, sha: str, plans: PlanSet, now: dt.datetime) -> LedgerEntry:
    """Load one file in one warehouse transaction, or ledger it as rejected (naming where it will be moved)."""
    entry = LedgerEntry(landed.name, landed.dataset, sha, 0, 0, 0, 0, "rejected", None, landed.mtime)
    with open_warehouse(home.warehouse) as con:
        cap_memory(con)
        try:
            if landed.dataset is None:
                raise RejectedFile(landed.path, f"folder {landed.path.parent.name!r} is not a dataset; "
                                                f"use one of {', '.join(DATASETS)}")
            base = plans.base
            rules = suite_rules(DATASETS[landed.dataset], departments=plans.departments, currency=base.currency,
                                now=now)
            return load_file(con, entry, landed.path, rules, base.timezone)
        except RejectedFile as e:
            target = rejected_target(home.quarantine, landed.path).relative_to(home.root)
            rejected = LedgerEntry(**{**entry.__dict__, "message": f"{e} (moved to {target})",
                                      "quarantined_to": str(target)})
            with transaction(con):
                return log_entry(con, rejected)


@task(**IO_RETRIES, **_TASK)
def quarantine_file(home: Home, landed: LandedFile, quarantined_to: str, reason: str) -> None:
    """Move a file ledgered as rejected to ``quarantine/files/`` beside its ``.reason`` file."""
    move_rejected(landed.path, home.root / quarantined_to, reason)


@task(**_TASK)  # not retried: it never fails (unknown periods mean every period)
def find_touched_periods(home: Home, plans: PlanSet, files: list[str], datasets: list[str] | None = None
                         ) -> dict[str, list[str] | None]:
    """For each dataset loaded from ``files`` (``datasets``, by default the files' folders; a source's file
    names its source's folder): the periods its new or changed rows touch (None: all). If they cannot be
    read, every dataset loaded touches every period, and a warning says so and why."""
    try:
        with open_warehouse(home.warehouse, read_only=True) as con:
            return touched_periods(con, plans, files, datasets)
    except Exception as e:  # noqa: BLE001 - unknown periods mean: re-evaluate all of them
        names = sorted((set(datasets) if datasets is not None else {f.split("/", 1)[0] for f in files})
                       & set(DATASETS))
        run_logger().warning("could not find the periods touched by %s; re-evaluating all periods (%s: %s)",
                             ", ".join(files), type(e).__name__, e)
        return dict.fromkeys(names)


@flow(name="orbit-ingest", log_prints=False, persist_result=False)
def ingest_flow(home: Home, plans: PlanSet, files: list[str] | None = None, announce: bool = True
                ) -> list[LedgerEntry]:
    """Ingest every new landed file (or only ``files``, paths relative to landing/). With ``announce``,
    emit ``orbit.dataset.updated`` with the periods the new rows touch (for `orbit serve`'s
    evaluate-on-change); a caller that evaluates and publishes itself passes False."""
    logger = run_logger()
    home.ensure()
    now = dt.datetime.now(dt.timezone.utc)
    with open_warehouse(home.warehouse) as con:
        seen = ingested_hashes(con)
        pending = pending_moves(con)
        delivered = delivered_sources(con)
    sources = load_sources(home.sources)
    results: list[LedgerEntry] = []
    for landed in list_landed(home.landing):
        if files is not None and landed.name not in files:
            continue
        sha = sha256_of(landed.path)
        target, reason = pending.get((landed.name, sha), (None, None))
        if target and not (home.root / target).exists():  # ledgered as rejected, then a crash before the move
            logger.warning("%s was rejected by an earlier run; moving it to %s now", landed.name, target)
            quarantine_file(home, landed, target, reason)
            continue
        if landed.dataset is None and landed.folder in sources:  # a source's file, read through its mapping
            for entry in ingest_source(home, landed, sha, plans, now, sources[landed.folder], delivered, logger):
                if entry.status == "rejected":
                    logger.error("rejected %s", entry.message)
                    quarantine_file(home, landed, entry.quarantined_to, entry.message)
                elif entry.status == "waiting":
                    logger.warning("%s %s", landed.name, entry.message)
                results.append(entry)
            continue
        if sha in seen:
            if landed.name not in seen[sha]:  # the same content delivered again under another name
                with open_warehouse(home.warehouse) as con, transaction(con):
                    entry = log_entry(con, LedgerEntry(
                        landed.name, landed.dataset, sha, 0, 0, 0, 0, "duplicate_file",
                        f"same content as {', '.join(sorted(seen[sha]))}; skipped", landed.mtime))
                seen[sha].add(landed.name)
                results.append(entry)
            continue
        entry = ingest_file(home, landed, sha, plans, now)
        if entry.status == "rejected":
            logger.error("rejected %s", entry.message)
            quarantine_file(home, landed, entry.quarantined_to, entry.message)
        else:
            seen.setdefault(sha, set()).add(entry.file)
        results.append(entry)
        logger.info(
            "%s: read %d, loaded %d, quarantined %d, duplicate %d (%s)", entry.file, entry.rows_read,
            entry.rows_loaded, entry.rows_quarantined, entry.rows_duplicate, entry.status,
        )
    loaded = [e for e in results if e.status == "loaded" and e.dataset]
    touched = find_touched_periods(home, plans, [e.file for e in loaded], [e.dataset for e in loaded]) if loaded and announce else {}
    for name in sorted(touched):  # periods None: every period
        dataset_updated(home, name, touched[name])
    if not results:
        logging.getLogger(__name__).info("no new files in %s", home.landing)
    return results
