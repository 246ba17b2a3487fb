"""Writing ingested files into the warehouse: one transaction per file.

A file's good rows, its quarantined rows and its ledger row (``ingestion_log``) are
committed together, so a crash leaves all of the file or none of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from schemas.contracts import DATASETS, Dataset
from schemas.derive import key_expr_sql
from warehouse.db import transaction


@dataclass(frozen=True)
class LedgerEntry:
    file: str
    dataset: str | None
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    status: str  # loaded | rejected | duplicate_file
    message: str | None
    file_mtime: dt.datetime | None


def ingested_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """sha256 -> the file names under which that content is already in the ledger."""
    rows = con.execute("SELECT sha256, list(DISTINCT file) FROM ingestion_log GROUP BY sha256").fetchall()
    return {sha: set(files) for sha, files in rows}


def _row_hash_sql(ds: Dataset) -> str:
    """A stable content hash of a row (timestamps as epoch microseconds: formatting them is slow)."""
    def text(c: str) -> str:
        value = f"epoch_us({c})" if c != "extra" and ds.column(c).type == "timestamp" else c
        return f"coalesce(CAST({value} AS VARCHAR), '\u2400')"

    return f"md5_number(concat_ws(chr(31), {', '.join(text(c) for c in ds.column_names + ['extra'])}))"


def apply_file(
    con: duckdb.DuckDBPyConnection,
    entry: LedgerEntry,
    rows: pl.DataFrame | None,
    quarantine: pl.DataFrame | None,
) -> LedgerEntry:
    """Upsert a file's good rows (newest delivery wins, replaced versions go to history),
    store its quarantined rows, and write its ledger row — atomically.

    ``rows`` has the contract columns, ``_line`` and ``extra``; ``quarantine`` has
    _line, reason, details, raw. Returns the ledger entry with the final counts
    (rows identical to the version already loaded count as duplicates).
    """
    now = dt.datetime.now(dt.timezone.utc)
    with transaction(con):
        duplicates_of_loaded = 0
        loaded = 0
        if rows is not None and rows.height and entry.dataset:
            ds = DATASETS[entry.dataset]
            cols = ", ".join(ds.column_names)
            con.register("_incoming", rows)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _stage AS
                SELECT {cols}, extra, ? AS _file, _line, ? AS _sha256, ? AS _loaded_at,
                       {_row_hash_sql(ds)} AS _row_hash, {key_expr_sql(ds)} AS _key
                FROM _incoming""",
                [entry.file, entry.sha256, now],
            )
            con.unregister("_incoming")
            key_cur = key_expr_sql(ds, "c")
            duplicates_of_loaded = con.execute(
                f"SELECT count(*) FROM _stage s JOIN {ds.name} c ON {key_cur} = s._key AND c._row_hash = s._row_hash"
            ).fetchall()[0][0]
            con.execute(
                f"""INSERT INTO {ds.name}_history
                SELECT c.*, ? AS _superseded_at, ? AS _superseded_by
                FROM {ds.name} c JOIN _stage s ON {key_cur} = s._key AND c._row_hash <> s._row_hash""",
                [now, entry.file],
            )
            con.execute(
                f"""DELETE FROM {ds.name} c WHERE EXISTS (
                    SELECT 1 FROM _stage s WHERE s._key = {key_cur} AND s._row_hash <> c._row_hash)"""
            )
            loaded = con.execute(
                f"""INSERT INTO {ds.name} ({cols}, _file, _line, _sha256, _row_hash, extra, _loaded_at)
                SELECT {cols}, _file, _line, _sha256, _row_hash, extra, _loaded_at FROM _stage s
                WHERE NOT EXISTS (SELECT 1 FROM {ds.name} c WHERE {key_cur} = s._key)"""
            ).fetchall()[0][0]
            con.execute("DROP TABLE _stage")
        if quarantine is not None and quarantine.height:
            con.register("_q", quarantine)
            con.execute(
                """INSERT INTO quarantine SELECT ?, ?, ?, _line, reason, details, raw, ? FROM _q""",
                [entry.dataset or "", entry.file, entry.sha256, now],
            )
            con.unregister("_q")
        final = LedgerEntry(
            **{
                **entry.__dict__,
                "rows_loaded": loaded,
                "rows_duplicate": entry.rows_duplicate + duplicates_of_loaded,
            }
        )
        con.execute(
            """INSERT INTO ingestion_log (file, dataset, sha256, rows_read, rows_loaded, rows_quarantined,
                   rows_duplicate, status, message, file_mtime, ingested_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [final.file, final.dataset, final.sha256, final.rows_read, final.rows_loaded, final.rows_quarantined,
             final.rows_duplicate, final.status, final.message, final.file_mtime, now],
        )
    return final
