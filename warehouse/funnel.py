"""Reading the published ``revenue_funnel`` of one period (for `orbit diagnose` and the report).

The funnel is company-wide (no person's name or money), so it is read from the analysts' snapshot:
never from the warehouse, so it never waits for (or blocks) a writing run.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from warehouse.db import connect, query_frame


class FunnelNotFound(LookupError):
    """Nothing published for that period (the message lists the periods there are)."""


def funnel_rows(con, period: str) -> pl.DataFrame:
    """The period's ``revenue_funnel`` rows in funnel order, from an open connection (snapshot or warehouse)."""
    return query_frame(con, "SELECT * FROM revenue_funnel WHERE period = ? ORDER BY step", [period])


def read_published_funnel(snapshot: Path, period: str) -> pl.DataFrame:
    """The period's funnel from the published snapshot; :class:`FunnelNotFound` when there is none."""
    if not Path(snapshot).exists():
        raise FunnelNotFound(f"nothing published yet ({snapshot} is missing); run `orbit run` (or `orbit demo`)")
    con = connect(snapshot, read_only=True)
    try:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "revenue_funnel" not in tables:
            raise FunnelNotFound(f"{snapshot} has no revenue_funnel yet; run `orbit run` to publish one")
        rows = funnel_rows(con, period)
        if rows.height == 0:
            known = [p for (p,) in con.execute("SELECT DISTINCT period FROM revenue_funnel ORDER BY 1").fetchall()]
            raise FunnelNotFound(f"no revenue funnel for {period}; periods published: "
                                 f"{', '.join(known) or 'none'}")
        return rows
    finally:
        con.close()
