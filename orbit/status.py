"""`orbit status`: what the pipeline knows, read from the published snapshot only.

It never opens the warehouse, so it never waits for (or blocks) a writing run
(:func:`warehouse.snapshot.read_status` reads; this module presents). Failed runs are
added to the snapshot when they fail (``run_failures``); with a Prefect server up it also asks
the server for the next nightly run.
"""

from __future__ import annotations

from transforms.quality import unknown_types
from warehouse.home import Home
from warehouse.snapshot import read_status


def _table(rows: list[tuple], headers: list[str]) -> str:
    cells = [headers] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def render_status(home: Home, *, server: bool = False) -> str:
    """The status report; with ``server``, also what a running Prefect server knows (next nightly run)."""
    data = read_status(home.published)
    out = [f"Orbit status — {home.root}", "", "Datasets:"]
    rows = [(d.name, f"{d.rows:,}", f"{d.quarantined:,}", d.last_file or "-",
             d.ingested_at.strftime("%Y-%m-%d %H:%M UTC") if d.ingested_at else "-",
             str(d.last_row_time)[:19] if d.last_row_time else "-") for d in data.datasets]
    out.append(_table(rows, ["dataset", "rows", "quarantined", "last file", "ingested", "last row time"]))
    out += ["", "Files (rows read = loaded + quarantined + duplicate + skipped by a source's `when`):"]
    out.append(_table(data.files, ["status", "files", "read", "loaded", "quarantined", "duplicate", "skipped"]))
    if data.waiting:
        out += ["", "Waiting in landing (their source's mapping is refused; fix it, `orbit sources check NAME`):"]
        for file, reason in data.waiting:
            out.append(f"  {file}:")
            out += [f"    {line}" for line in (reason or "").splitlines()]
    out += ["", "Last runs:"]
    out.append(_table([(k, s, str(a)[:19], str(b)[:19] if b else "", r, p) for k, s, a, b, r, p in data.runs],
                      ["kind", "status", "started", "finished", "run_id", "periods"]))
    if data.failures is not None:
        out += ["", "Recent failures (the snapshot stays the last good one):"]
        out.append(_table([(k, str(t)[:19], e, _short(m), r or "") for k, t, e, m, r in data.failures],
                          ["kind", "failed", "error", "message", "flow run"]) if data.failures else "  none")
    out += ["", "Activity types that pay nothing (neither the engine nor the plan counts them):"]
    out += [f"  {u.message()}" for u in unknown_types(data.unknown_activity_types)] or ["  none"]
    out += ["", "Periods:"]
    periods = [(p, st, e, i, pl, str(c)[:16] if c else "", b or "", pend or "", "yes" if part else "",
                first or "", last or "", (why or "its data does not cover all of it") if part else "")
               for p, st, e, i, pl, c, b, pend, part, first, last, why in data.periods]
    out.append(_table([p[:-1] for p in periods], ["period", "state", "employees", "incomplete", "plan", "closed",
                                                  "closed by", "pending restatement", "partial", "data from",
                                                  "data to"]))
    out += [f"  {p[0]} is partial: {p[-1]}" for p in periods if p[-1]]
    if server:
        out += ["", *_server_lines(home)]
    return "\n".join(out)


def _short(text: str | None, width: int = 80) -> str:
    line = (text or "").splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


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
