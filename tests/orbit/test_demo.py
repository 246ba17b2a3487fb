"""`orbit demo`'s summary, on a small organisation with bad rows run through the real pipeline."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from warehouse.home import Home


@pytest.mark.slow
def test_the_summary_lists_every_quarantine_reason_adding_up_to_the_quarantined_rows(
        prefect_harness, default_plans, tmp_path):
    from flows.run import run_flow
    from orbit.demo import summarize
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path / "home").ensure()
    end = dt.date(2026, 9, 30)
    frames = generate_org(employees=30, months=3, seed=3, end_date=end, plan=default_plans.base, bad_rows=0.2)
    write_org(frames, home.landing, end_date=end)
    run_flow(home, default_plans)
    text = summarize(home, "2026-Q3", "export.csv", "report.html")
    [line] = [line for line in text.splitlines() if "quarantine reasons" in line]
    total, listed = re.fullmatch(r"  quarantine reasons \(([\d,]+) rows\): (.*)", line).groups()
    counts = dict(item.rsplit(" ", 1) for item in listed.split(", "))
    with duckdb.connect(str(home.published), read_only=True) as con:
        reasons = dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall())
        quarantined = con.execute("SELECT sum(rows_quarantined) FROM ingestion_log").fetchall()[0][0]
    assert len(reasons) > 6  # more than the summary used to show
    assert {r: int(n.replace(",", "")) for r, n in counts.items()} == reasons
    assert int(total.replace(",", "")) == sum(reasons.values()) == quarantined
