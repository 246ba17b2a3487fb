"""`orbit status`: what the pipeline knows, read from the published snapshot only.

It never opens the warehouse, so it never waits for (or blocks) a writing run.
"""

from __future__ import annotations

import duckdb

from orbit.settings import Home
from schemas.contracts import DATASETS

_TIME_COLUMN = {"employees": "effective_from", "opportunities": "created_at", "activities": "occurred_at",
                "measurements": "measured_at", "feedback": "responded_at", "targets": None}


def _table(rows: list[tuple], headers: list[str]) -> str:
    cells = [headers] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def render_status(home: Home) -> str:
    con = duckdb.connect(str(home.published), read_only=True)
    try:
        out = [f"Orbit status — {home.root}", "", "Datasets:"]
        rows = []
        for name in DATASETS:
            last = next(iter(con.execute(
                "SELECT file, ingested_at FROM ingestion_log WHERE dataset = ? AND status = 'loaded' "
                "ORDER BY seq DESC LIMIT 1", [name]).fetchall()), None)
            col = _TIME_COLUMN[name]
            last_row = con.execute(f"SELECT max({col}) FROM {name}").fetchall()[0][0] if col else None
            count = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            q = con.execute("SELECT count(*) FROM quarantine WHERE dataset = ?", [name]).fetchall()[0][0]
            rows.append((name, f"{count:,}", f"{q:,}", last[0] if last else "-",
                         last[1].strftime("%Y-%m-%d %H:%M UTC") if last else "-",
                         str(last_row)[:19] if last_row else "-"))
        out.append(_table(rows, ["dataset", "rows", "quarantined", "last file", "ingested", "last row time"]))
        files = con.execute(
            "SELECT status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate) "
            "FROM ingestion_log GROUP BY status ORDER BY status").fetchall()
        out += ["", "Files (rows read = loaded + quarantined + duplicate):"]
        out.append(_table(files, ["status", "files", "read", "loaded", "quarantined", "duplicate"]))
        runs = con.execute(
            "SELECT kind, status, started_at, finished_at, left(run_id, 12), periods FROM runs "
            "ORDER BY started_at DESC LIMIT 5").fetchall()
        out += ["", "Last runs:"]
        out.append(_table([(k, s, str(a)[:19], str(b)[:19] if b else "", r, p) for k, s, a, b, r, p in runs],
                          ["kind", "status", "started", "finished", "run_id", "periods"]))
        periods = con.execute(
            "SELECT period, count(*), count(*) FILTER (WHERE incomplete), any_value(plan_version) "
            "FROM employee_scores GROUP BY period ORDER BY period").fetchall()
        out += ["", "Periods (all open; period close arrives with `orbit close`):"]
        out.append(_table(periods, ["period", "employees", "incomplete", "plan"]))
        return "\n".join(out)
    finally:
        con.close()
