"""`orbit status`: what the pipeline knows, read from the published snapshot only.

It never opens the warehouse, so it never waits for (or blocks) a writing run. Failed runs are
added to the snapshot when they fail (``run_failures``); with a Prefect server up it also asks
the server for the next nightly run.
"""

from __future__ import annotations

import duckdb

from schemas.contracts import DATASETS
from transforms.quality import UNKNOWN_ACTIVITY_TYPE, unknown_types
from warehouse.home import Home
from warehouse.read import data_quality_findings
from warehouse.sources import waiting_in_ledger

_TIME_COLUMN = {"employees": "effective_from", "opportunities": "created_at", "activities": "occurred_at",
                "measurements": "measured_at", "feedback": "responded_at", "targets": None}


def _table(rows: list[tuple], headers: list[str]) -> str:
    cells = [headers] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def render_status(home: Home, *, server: bool = False) -> str:
    """The status report; with ``server``, also what a running Prefect server knows (next nightly run)."""
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
        waiting = waiting_in_ledger(con)
        skipped = "sum(rows_skipped)" if waiting or _has_column(con, "ingestion_log", "rows_skipped") else "0"
        files = con.execute(
            "SELECT status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate), "
            f"{skipped} FROM ingestion_log GROUP BY status ORDER BY status").fetchall()
        out += ["", "Files (rows read = loaded + quarantined + duplicate + skipped by a source's `when`):"]
        out.append(_table(files, ["status", "files", "read", "loaded", "quarantined", "duplicate", "skipped"]))
        if waiting:
            out += ["", "Waiting in landing (their source's mapping is refused; fix it, `orbit sources check NAME`):"]
            for file, reason in waiting:
                out.append(f"  {file}:")
                out += [f"    {line}" for line in (reason or "").splitlines()]
        runs = con.execute(
            "SELECT kind, status, started_at, finished_at, left(run_id, 12), periods FROM runs "
            "ORDER BY started_at DESC LIMIT 5").fetchall()
        out += ["", "Last runs:"]
        out.append(_table([(k, s, str(a)[:19], str(b)[:19] if b else "", r, p) for k, s, a, b, r, p in runs],
                          ["kind", "status", "started", "finished", "run_id", "periods"]))
        if _has_table(con, "run_failures"):
            failures = con.execute(
                "SELECT kind, failed_at, error_type, message, flow_run_id FROM run_failures "
                "ORDER BY failed_at DESC LIMIT 5").fetchall()
            out += ["", "Recent failures (the snapshot stays the last good one):"]
            out.append(_table([(k, str(t)[:19], e, _short(m), r or "") for k, t, e, m, r in failures],
                              ["kind", "failed", "error", "message", "flow run"]) if failures else "  none")
        unknown = unknown_types(data_quality_findings(con, UNKNOWN_ACTIVITY_TYPE))
        out += ["", "Activity types that pay nothing (neither the engine nor the plan counts them):"]
        out += [f"  {u.message()}" for u in unknown] or ["  none"]
        out += ["", "Periods:"]
        periods = _periods(con)
        out.append(_table([p[:-1] for p in periods], ["period", "state", "employees", "incomplete", "plan", "closed",
                                                      "closed by", "pending restatement", "partial", "data from",
                                                      "data to"]))
        out += [f"  {p[0]} is partial: {p[-1]}" for p in periods if p[-1]]
        if server:
            out += ["", *_server_lines(home)]
        return "\n".join(out)
    finally:
        con.close()


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
                            [table, column]).fetchall()[0][0])


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name])
                .fetchall()[0][0])


def _short(text: str | None, width: int = 80) -> str:
    line = (text or "").splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _periods(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every evaluated period with its state (``period_status``; all open in a snapshot without it), what its
    data covers, and last, why it is partial (empty when it is not)."""
    scores = ("SELECT period, count(*) AS employees, count(*) FILTER (WHERE incomplete) AS incomplete, "
              "any_value(plan_version) AS plan FROM employee_scores GROUP BY period")
    if not _has_table(con, "period_status"):
        rows = con.execute(f"SELECT period, 'open', employees, incomplete, plan, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
                           f"FROM ({scores}) ORDER BY period").fetchall()
    else:
        # a snapshot published before periods knew their coverage has no partial columns yet
        coverage = ("p.partial, p.first_data_day, p.last_data_day, p.partial_reason"
                    if _has_column(con, "period_status", "partial") else "NULL, NULL, NULL, NULL")
        rows = con.execute(
            f"""SELECT coalesce(p.period, s.period), coalesce(p.state, 'open'), s.employees, s.incomplete, s.plan,
                       p.closed_at, p.closed_by,
                       CASE WHEN p.pending_restatement THEN 'since ' || strftime(p.pending_since, '%Y-%m-%d %H:%M')
                       END, {coverage}
                FROM ({scores}) s FULL JOIN period_status p ON p.period = s.period ORDER BY 1""").fetchall()
    return [(p, st, e, i, pl, str(c)[:16] if c else "", b or "", pend or "", "yes" if part else "",
             first or "", last or "", (why or "its data does not cover all of it") if part else "")
            for p, st, e, i, pl, c, b, pend, part, first, last, why in rows]


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
                            [table, column]).fetchall()[0][0])


def _server_lines(home: Home) -> list[str]:
    """The Prefect server's view (next nightly run, latest runs), when `orbit serve` or PREFECT_API_URL has one up."""
    from orbit.serve import find_api, read_server_view

    api = find_api(home)
    if api is None:
        return ["Prefect server: not running (`orbit serve` starts it, with the nightly schedule)"]
    try:
        view = read_server_view(api)
    except Exception as e:  # noqa: BLE001 - status must work whatever the server says
        return [f"Prefect server: {api} (could not read it: {e})"]
    lines = [f"Prefect server: {api.rstrip('/').removesuffix('/api')}",
             "  next nightly run: " + (view.next_nightly.strftime("%Y-%m-%d %H:%M %Z (UTC%z)")
                                       if view.next_nightly else "none scheduled (is `orbit serve` running?)")]
    if view.recent:
        lines += ["  latest runs on the server:",
                  _table([(d, s, str(t)[:19] if t else "") for d, s, t in view.recent], ["deployment", "state", "started"])]
    return lines
