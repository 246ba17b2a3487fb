"""The hash-chained audit log: each row's hash covers its content and the previous row's hash."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from pathlib import Path

import duckdb

_FIELDS = ("seq", "logged_at", "actor", "action", "period", "run_id", "plan_version", "input_hashes",
           "output_sha256", "detail", "prev_hash")


def _row_hash(values: dict) -> str:
    canonical = json.dumps({k: (str(values[k]) if values[k] is not None else None) for k in _FIELDS}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def append_audit(con: duckdb.DuckDBPyConnection, action: str, *, period: str | None = None,
                 run_id: str | None = None, plan_version: str | None = None, input_hashes: str | None = None,
                 output_sha256: str | None = None, detail: str | None = None) -> str:
    """Append one audit row (inside the caller's transaction, if any); return its hash."""
    last = next(iter(con.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()), None)
    values = {
        "seq": (last[0] + 1) if last else 1,
        "logged_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "actor": getpass.getuser(),
        "action": action, "period": period, "run_id": run_id, "plan_version": plan_version,
        "input_hashes": input_hashes, "output_sha256": output_sha256, "detail": detail,
        "prev_hash": last[1] if last else "",
    }
    values["row_hash"] = _row_hash(values)
    con.execute(f"INSERT INTO audit_log ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                list(values.values()))
    return values["row_hash"]


def verify_audit(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems found in the chain (empty = intact)."""
    rows = con.execute(
        f"SELECT {', '.join(_FIELDS)}, row_hash FROM audit_log ORDER BY seq"
    ).fetchall()
    problems, prev = [], ""
    for row in rows:
        values = dict(zip(_FIELDS + ("row_hash",), row))
        if values["prev_hash"] != prev:
            problems.append(f"audit row {values['seq']}: chain broken (previous hash does not match)")
        if _row_hash(values) != values["row_hash"]:
            problems.append(f"audit row {values['seq']}: content does not match its hash (tampered)")
        prev = values["row_hash"]
    return problems


def verify_audit_log(warehouse: Path) -> tuple[list[str], int]:
    """:func:`verify_audit` on the warehouse file (read-only), with the number of rows checked."""
    from warehouse.db import open_warehouse

    with open_warehouse(warehouse, read_only=True) as con:
        problems = verify_audit(con)
        return problems, con.execute("SELECT count(*) FROM audit_log").fetchall()[0][0]
