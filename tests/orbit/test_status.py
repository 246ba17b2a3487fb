"""`orbit status`: rendered from the published snapshot only (plus the Prefect server when one is up)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from warehouse.db import open_warehouse
from warehouse.home import Home
from warehouse.operations import RunFailure, add_failure_to_snapshot
from warehouse.publish import publish_snapshot

AT = dt.datetime(2026, 10, 2, 8, 0, tzinfo=dt.timezone.utc)


def _score(period: str, employee: str, incomplete: bool = False) -> list:
    return [period, employee, "sales", "rep", 1, 1, incomplete, None, "2026.1", "r1"]


def _publish(home: Home, *, period_status: bool) -> None:
    with open_warehouse(home.warehouse) as con:
        con.executemany("INSERT INTO employee_scores (period, employee_id, department, role, composite, "
                        "payout_multiplier, incomplete, incomplete_reason, plan_version, run_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_score("2026-Q2", "E1"), _score("2026-Q2", "E2", True), _score("2026-Q3", "E1")])
        con.execute("INSERT INTO runs VALUES ('r1', 'evaluate', ?, ?, 'completed', '2026-Q2,2026-Q3', '2026.1', NULL)",
                    [AT, AT])
        con.execute("INSERT INTO period_status (period, state, closed_run_id, closed_at, closed_by, "
                    "pending_restatement, pending_since, partial, first_data_day, last_data_day) "
                    "VALUES ('2026-Q2', 'closed', 'r1', ?, 'hr@example', true, ?, false, '2026-04-01', '2026-06-30')",
                    [AT, AT])
        con.execute("INSERT INTO period_status (period, partial, partial_reason, first_data_day, last_data_day) "
                    "VALUES ('2026-Q3', true, 'it has not ended: it runs to 2026-09-30, today is 2026-09-12', "
                    "'2026-07-01', '2026-09-11')")
        publish_snapshot(con, home.published)
    if not period_status:  # a snapshot published before period close existed
        with duckdb.connect(str(home.published)) as snap:
            snap.execute("DROP TABLE period_status")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return Home(tmp_path / "home").ensure()


def _section(text: str, title: str) -> list[str]:
    lines = text.split(title, 1)[1].splitlines()[1:]
    return lines[: next((i for i, line in enumerate(lines) if not line.strip()), len(lines))]


def test_periods_show_their_state_from_period_status(home):
    _publish(home, period_status=True)
    from orbit.status import render_status

    rows = _section(render_status(home), "Periods:")
    q2 = next(r for r in rows if r.strip().startswith("2026-Q2")).split()
    q3 = next(r for r in rows if r.strip().startswith("2026-Q3")).split()
    assert q2[:4] == ["2026-Q2", "closed", "2", "1"] and "hr@example" in q2 and "since" in q2
    assert q3[:4] == ["2026-Q3", "open", "1", "0"]
    assert q2[-2:] == ["2026-04-01", "2026-06-30"] and "yes" not in q2
    assert q3[-3:] == ["yes", "2026-07-01", "2026-09-11"]
    assert "  2026-Q3 is partial: it has not ended: it runs to 2026-09-30, today is 2026-09-12" in rows


def test_without_period_status_every_scored_period_is_open(home):
    _publish(home, period_status=False)
    from orbit.status import render_status

    rows = _section(render_status(home), "Periods:")
    assert [r.split()[:2] for r in rows[2:]] == [["2026-Q2", "open"], ["2026-Q3", "open"]]


def test_failures_added_after_publishing_are_shown_newest_first(home):
    _publish(home, period_status=True)
    from orbit.status import render_status

    assert _section(render_status(home), "Recent failures")[0].strip() == "none"
    for minutes, error in ((1, "WarehouseBusy"), (2, "ValueError")):
        add_failure_to_snapshot(home.published, RunFailure(
            "ingest", f"run-{minutes}", AT, AT + dt.timedelta(minutes=minutes), error, f"boom {minutes}\nmore"))
    rows = _section(render_status(home), "Recent failures")
    assert [r.split()[0] for r in rows[2:]] == ["ingest", "ingest"]
    assert "ValueError" in rows[2] and "boom 2" in rows[2] and "run-2" in rows[2] and "more" not in rows[2]
    assert "WarehouseBusy" in rows[3]


def test_without_a_server_status_says_so(home):
    _publish(home, period_status=True)
    from orbit.status import render_status

    assert "Prefect server: not running" in render_status(home, server=True)
    assert "Prefect server" not in render_status(home)
