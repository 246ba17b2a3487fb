"""Ingest flow: every new file in ``landing/<dataset>/`` validated, loaded, quarantined, logged.

Thin orchestration: reading (I/O, retried), casting and validation (pure transforms and
the GE suite, no warehouse access, may run in parallel), then one warehouse transaction
per file (data + quarantine + ledger row).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace

import duckdb

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import emit, run_logger
from orbit.landing import LandedFile, RejectedFile, list_landed, move_rejected, read_text, sha256_of
from orbit.settings import Home
from schemas.contracts import DATASETS
from schemas.plan import PlanSet
from schemas.suites import build_suite, validate_rows
from transforms.ingest import cast_rows, check_columns, collect_quarantine, split_duplicates
from warehouse.db import open_warehouse
from warehouse.load import LedgerEntry, apply_file, ingested_hashes

# Task results may hold compensation data: never persisted, never cached.
_TASK = dict(persist_result=False, cache_policy=NO_CACHE)


@dataclass
class StagedFile:
    entry: LedgerEntry
    rows: pl.DataFrame | None
    quarantine: pl.DataFrame | None


def _io_error(task, task_run, state) -> bool:
    """Retry only what a retry can fix: I/O errors, not bad input."""
    try:
        state.result()
    except (OSError, duckdb.IOException):
        return True
    except BaseException:  # noqa: BLE001
        return False
    return False


@task(retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_io_error, **_TASK)
def stage_file(landed: LandedFile, sha: str, plans: PlanSet, now: dt.datetime) -> StagedFile:
    """Read, cast, validate and de-duplicate one file's rows; nothing is written to the warehouse here."""
    try:
        return _stage(landed, sha, plans, now)
    except RejectedFile as e:
        entry = LedgerEntry(landed.name, landed.dataset, sha, 0, 0, 0, 0, "rejected", str(e), landed.mtime)
        return StagedFile(entry, None, None)


def _stage(landed: LandedFile, sha: str, plans: PlanSet, now: dt.datetime) -> StagedFile:
    if landed.dataset is None:
        raise RejectedFile(
            landed.path, f"folder {landed.path.parent.name!r} is not a dataset; use one of {', '.join(DATASETS)}"
        )
    ds = DATASETS[landed.dataset]
    raw = read_text(landed.path)
    missing, extra = check_columns(raw.columns, ds)
    if missing:
        hint = f" (unknown columns present: {', '.join(extra)} — renamed?)" if extra else ""
        raise RejectedFile(landed.path, f"missing required column(s) {', '.join(missing)}{hint}", 1)
    base = plans.base
    typed, cast_problems = cast_rows(raw, ds, base.timezone)
    suite = build_suite(ds, departments=plans.departments, currency=base.currency, now=now)
    failures = validate_rows(typed, suite)
    problems = pl.concat([cast_problems, failures])
    good = typed.join(problems.select("_line").unique(), on="_line", how="anti")
    unique_rows, conflicts, n_dup = split_duplicates(good, ds)
    quarantine = collect_quarantine(raw, pl.concat([problems, conflicts]))
    message = f"extra columns kept in `extra`: {', '.join(extra)}" if extra else None
    entry = LedgerEntry(
        file=landed.name, dataset=ds.name, sha256=sha, rows_read=raw.height, rows_loaded=unique_rows.height,
        rows_quarantined=quarantine.height, rows_duplicate=n_dup, status="loaded", message=message,
        file_mtime=landed.mtime,
    )
    return StagedFile(entry, unique_rows, quarantine)


@task(retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_io_error, **_TASK)
def load_file(home: Home, staged: StagedFile) -> LedgerEntry:
    with open_warehouse(home.warehouse) as con:
        return apply_file(con, staged.entry, staged.rows, staged.quarantine)


@flow(name="orbit-ingest", log_prints=False, persist_result=False)
def ingest_flow(home: Home, plans: PlanSet, files: list[str] | None = None) -> list[LedgerEntry]:
    """Ingest every new landed file (or only ``files``, paths relative to landing/)."""
    logger = run_logger()
    home.ensure()
    now = dt.datetime.now(dt.timezone.utc)
    with open_warehouse(home.warehouse) as con:
        seen = ingested_hashes(con)
    results: list[LedgerEntry] = []
    for landed in list_landed(home.landing):
        if files is not None and landed.name not in files:
            continue
        sha = sha256_of(landed.path)
        if sha in seen:
            if landed.name not in seen[sha]:  # the same content delivered again under another name
                entry = load_file(home, StagedFile(LedgerEntry(
                    landed.name, landed.dataset, sha, 0, 0, 0, 0, "duplicate_file",
                    f"same content as {', '.join(sorted(seen[sha]))}; skipped", landed.mtime), None, None))
                seen[sha].add(landed.name)
                results.append(entry)
            continue
        staged = stage_file(landed, sha, plans, now)
        if staged.entry.status == "rejected":
            logger.error("rejected %s", staged.entry.message)
            moved = move_rejected(landed.path, home.quarantine, staged.entry.message)
            staged.entry = replace(staged.entry, message=f"{staged.entry.message} (moved to {moved.relative_to(home.root)})")
        entry = load_file(home, staged)
        seen.setdefault(sha, set()).add(entry.file)
        results.append(entry)
        logger.info(
            "%s: read %d, loaded %d, quarantined %d, duplicate %d (%s)", entry.file, entry.rows_read,
            entry.rows_loaded, entry.rows_quarantined, entry.rows_duplicate, entry.status,
        )
    updated = sorted({e.dataset for e in results if e.status == "loaded" and e.dataset})
    for name in updated:
        emit("orbit.dataset.updated", resource_id=f"orbit.dataset.{name}", payload={"dataset": name})
    if not results:
        logging.getLogger(__name__).info("no new files in %s", home.landing)
    return results
