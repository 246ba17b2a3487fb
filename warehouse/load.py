"""Writing ingested files into the warehouse: one transaction per file.

A file is read, cast, validated and de-duplicated inside DuckDB (the SQL comes from
:mod:`warehouse.ingest_sql` and the suite's rules, :func:`warehouse.rules.failures_sql`); its good rows,
its quarantined rows and its ledger row (``ingestion_log``) are committed together, so a
crash leaves all of the file or none of it. A rejected file's ledger row names where the
file goes (``quarantined_to``) and is committed before the file is moved, so a crash in
between is finished by the next run.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from schemas.contracts import DATASETS, Dataset
from warehouse.db import transaction
from warehouse.ingest_sql import (
    bad_type_sql,
    check_columns,
    duplicates_sql,
    quarantine_sql,
    raw_json_sql,
    repeated_keys_sql,
    typed_sql,
)
from warehouse.landing import RejectedFile, drop_rows, load_rows
from warehouse.rules import failing_sql, failures_sql
from warehouse.sql import ident, key_expr_sql

#: DuckDB's memory cap on a connection that ingests, unless ORBIT_MEMORY_LIMIT sets one: the file's text and
#: typed rows, the largest things a load holds, spill to disk beyond it. Measured on 5 M rows: the whole
#: `orbit ingest` process tree (Prefect's server included) peaks at 2.2 GiB with 1.5 GB, under 2 GiB with
#: 1 GB, for about 1 s more.
INGEST_MEMORY_LIMIT = "1GB"


def cap_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Apply INGEST_MEMORY_LIMIT to a connection opened to ingest (ORBIT_MEMORY_LIMIT, when set, wins)."""
    if not os.environ.get("ORBIT_MEMORY_LIMIT"):
        con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")


@dataclass(frozen=True)
class LedgerEntry:
    file: str
    dataset: str | None
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    status: str  # loaded | rejected | duplicate_file | waiting (a source file whose mapping is refused)
    message: str | None
    file_mtime: dt.datetime | None
    quarantined_to: str | None = None  # a rejected file: where it goes, relative to ORBIT_HOME
    rows_skipped: int = 0  # a source file's rows that did not meet the feed's `when`
    mapping_sha256: str | None = None  # a source file: the hash of the mapping it was loaded with


def ingested_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """sha256 -> the file names under which that content is already loaded (or skipped as a copy).

    Rejected content is not in it: delivered again, it is rejected (and logged) again."""
    rows = con.execute("SELECT sha256, list(DISTINCT file) FROM ingestion_log "
                       "WHERE status NOT IN ('rejected', 'waiting') AND mapping_sha256 IS NULL GROUP BY sha256").fetchall()
    return {sha: set(files) for sha, files in rows}


def pending_moves(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, str]]:
    """(file, sha256) -> (quarantined_to, message) of each rejected file's latest ledger row."""
    rows = con.execute("SELECT file, sha256, last(quarantined_to ORDER BY seq), last(message ORDER BY seq) "
                       "FROM ingestion_log WHERE status = 'rejected' AND quarantined_to IS NOT NULL "
                       "GROUP BY file, sha256").fetchall()
    return {(f, s): (q, m) for f, s, q, m in rows}


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def log_entry(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, now: dt.datetime | None = None) -> LedgerEntry:
    """Write one ledger row (inside the caller's transaction, or on its own)."""
    con.execute(
        """INSERT INTO ingestion_log (file, dataset, sha256, rows_read, rows_loaded, rows_quarantined,
               rows_duplicate, status, message, file_mtime, ingested_at, quarantined_to, rows_skipped, mapping_sha256)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [entry.file, entry.dataset, entry.sha256, entry.rows_read, entry.rows_loaded, entry.rows_quarantined,
         entry.rows_duplicate, entry.status, entry.message, entry.file_mtime,
         now or dt.datetime.now(dt.timezone.utc), entry.quarantined_to, entry.rows_skipped, entry.mapping_sha256],
    )
    return entry


def load_file(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, path: Path, rules, tz: str) -> LedgerEntry:
    """Ingest one delivered file atomically: read it, cast it to the contract (text without an offset
    read in ``tz``), validate it with the suite's ``rules`` (:func:`schemas.suites.suite_rules`), quarantine bad rows with reasons, resolve keys repeated
    within it, upsert the good rows (newest delivery wins, replaced versions go to history) and write
    its ledger row. Raises :class:`RejectedFile` (nothing written) if the file cannot be ingested.

    Returns the ledger entry with the counts: rows_read = loaded + quarantined + duplicate (rows
    identical to the version already loaded count as duplicates).
    """
    ds = DATASETS[entry.dataset]
    now = dt.datetime.now(dt.timezone.utc)

    def typed(source: str, columns: list[str]) -> str:
        missing, extra = check_columns(columns, ds)
        if missing:
            hint = f" (unknown columns present: {', '.join(extra)} — renamed?)" if extra else ""
            raise RejectedFile(path, f"missing required column(s) {', '.join(missing)}{hint}", 1)
        return typed_sql(ds, columns, tz, source, suspect=failing_sql(rules))

    def text_rows(table: str) -> str:
        load_rows(con, path, table)
        return raw_json_sql(columns)

    with transaction(con):
        columns = load_rows(con, path, "_typed", typed)  # read, cast, check, hash: one pass over the file
        _, extra = check_columns(columns, ds)
        final = load_typed(con, entry, ds, rules, now, text_rows,
                           message=f"extra columns kept in `extra`: {', '.join(extra)}" if extra else None)
    drop_rows(con, "_typed")
    return final


def load_typed(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, ds: Dataset, rules, now: dt.datetime,
               text_rows, *, message: str | None, skipped: int = 0, more_problems: str | None = None) -> LedgerEntry:
    """Validate, quarantine, de-duplicate and upsert the typed rows of one file (the view ``_typed`` and the
    table or view ``_typed_rows``, as :func:`warehouse.ingest_sql.typed_sql` gives them) and write its ledger
    row, inside the caller's transaction. ``text_rows(table)`` reads the file's rows as text into the view
    ``table`` and returns the SQL of a row's raw JSON (for quarantined rows whose raw text was not kept);
    ``more_problems`` is a SELECT of further (_line, reason, column) problems; ``skipped`` rows were read but
    not offered (a source feed's `when`)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _problems AS {bad_type_sql('_typed')}")
    con.execute(f"INSERT INTO _problems {failures_sql(rules, '_typed', candidates='_raw IS NOT NULL')}")
    if more_problems:
        con.execute(f"INSERT INTO _problems {more_problems}")
        # a value reported as missing from its map is not also reported by the checks of its column
        con.execute("""DELETE FROM _problems p WHERE reason <> 'unmapped_value' AND EXISTS (
            SELECT 1 FROM _problems u WHERE u.reason = 'unmapped_value' AND u._line = p._line
            AND starts_with(u."column", p."column" || ' ('))""")
    con.execute("""CREATE OR REPLACE TEMP VIEW _valid AS
                   SELECT * FROM _typed WHERE _line NOT IN (SELECT _line FROM _problems)""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _repeated AS {repeated_keys_sql(ds, '_typed_rows')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _repeats AS {duplicates_sql(ds, '_repeated', '_valid')}")
    con.execute("INSERT INTO _problems SELECT * FROM _repeats WHERE reason = 'duplicate_key_conflict'")
    in_file_duplicates = _count(con, "SELECT count(*) FROM _repeats WHERE reason = 'duplicate'")
    _quarantine_raws(con, text_rows)
    quarantined = con.execute(
        f"""INSERT INTO quarantine SELECT ?, ?, ?, _line, reason, details, raw, ?
            FROM ({quarantine_sql('_problems', '_raws')})""",
        [ds.name, entry.file, entry.sha256, now],
    ).fetchall()[0][0]
    con.execute("""CREATE OR REPLACE TEMP TABLE _excluded AS
                   SELECT _line FROM _problems UNION SELECT _line FROM _repeats""")
    con.execute("CREATE OR REPLACE TEMP VIEW _incoming AS SELECT * FROM _typed ANTI JOIN _excluded USING (_line)")
    loaded, duplicates_of_loaded = _upsert(con, ds, entry.file, entry.sha256, now)
    final = replace(
        entry, rows_read=_count(con, "SELECT count(*) FROM _typed_rows") + skipped, rows_loaded=loaded,
        rows_quarantined=quarantined, rows_duplicate=in_file_duplicates + duplicates_of_loaded,
        rows_skipped=skipped, status="loaded", message=message,
    )
    log_entry(con, final, now)
    for name in ("_incoming", "_valid"):
        con.execute(f"DROP VIEW IF EXISTS {name}")
    for name in ("_excluded", "_raws", "_repeats", "_repeated", "_problems"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return final


def _quarantine_raws(con: duckdb.DuckDBPyConnection, text_rows) -> None:
    """The table _raws (_line, raw) of the file's quarantined lines: kept by the pass that cast them when a
    value did not parse or broke the suite; a row quarantined only for a key conflict within the file
    has passed every row check, so the file is read again (as text) for it, which happens rarely."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _raws AS SELECT _line, _raw AS raw FROM _typed
                   WHERE _raw IS NOT NULL AND _line IN (SELECT _line FROM _problems)""")
    if not _count(con, "SELECT count(*) FROM _problems WHERE _line NOT IN (SELECT _line FROM _raws)"):
        return
    raw = text_rows("_text")
    try:
        con.execute(f"""INSERT INTO _raws SELECT _line, {raw} FROM _text
                        WHERE _line IN (SELECT _line FROM _problems) AND _line NOT IN (SELECT _line FROM _raws)""")
    finally:
        drop_rows(con, "_text")


def _upsert(con: duckdb.DuckDBPyConnection, ds: Dataset, file: str, sha: str, now: dt.datetime) -> tuple[int, int]:
    """Insert ``_incoming`` into the dataset's table; a changed row replaces the current version of its
    key (which goes to history), an identical one is a duplicate. Returns (loaded, duplicates)."""
    cols = ", ".join(ident(c) for c in ds.column_names)
    insert = f"""INSERT INTO {ds.name} ({cols}, _file, _line, _sha256, _row_hash, extra, _loaded_at)
                 SELECT {cols}, ?, _line, ?, _row_hash, extra, ? FROM {{source}}"""
    if _count(con, f"SELECT count(*) FROM (SELECT 1 FROM {ds.name} LIMIT 1)") == 0:  # nothing to replace
        return con.execute(insert.format(source="_incoming"), [file, sha, now]).fetchall()[0][0], 0
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _stage AS
                    SELECT {cols}, _line, _row_hash, {key_expr_sql(ds)} AS _key, extra FROM _incoming""")
    key_cur = key_expr_sql(ds, "c")
    duplicates = _count(
        con, f"SELECT count(*) FROM _stage s JOIN {ds.name} c ON {key_cur} = s._key AND c._row_hash = s._row_hash")
    con.execute(
        f"""INSERT INTO {ds.name}_history
        SELECT c.*, ? AS _superseded_at, ? AS _superseded_by
        FROM {ds.name} c JOIN _stage s ON {key_cur} = s._key AND c._row_hash <> s._row_hash""",
        [now, file],
    )
    con.execute(
        f"""DELETE FROM {ds.name} c WHERE EXISTS (
            SELECT 1 FROM _stage s WHERE s._key = {key_cur} AND s._row_hash <> c._row_hash)"""
    )
    loaded = con.execute(
        insert.format(source=f"_stage s WHERE NOT EXISTS (SELECT 1 FROM {ds.name} c WHERE {key_cur} = s._key)"),
        [file, sha, now],
    ).fetchall()[0][0]
    con.execute("DROP TABLE _stage")
    return loaded, duplicates
