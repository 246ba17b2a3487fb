"""The deployments `orbit serve` serves, and the flows their schedule and triggers run (Prefect test harness)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flows.deployments import DEPLOYMENT_NAMES, build_deployments, evaluate_change_flow, ingest_file_flow
from flows.events import DATASET_UPDATED, FILE_ARRIVED
from warehouse.home import DEFAULT_PLAN, Home

END = dt.date(2026, 9, 30)


def _rows(path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def seeded(prefect_harness, default_plans, tmp_path_factory):
    """A small organisation, ingested, evaluated and published; the frames it came from."""
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("deployments") / "home").ensure()
    frames = generate_org(employees=15, months=3, seed=11, end_date=END, plan=default_plans.base)
    write_org(frames, home.landing, end_date=END)
    run_flow(home, default_plans)
    return home, frames


def test_deployments_are_named_as_served(default_plans, tmp_path):
    deployments = build_deployments(Home(tmp_path), default_plans, DEFAULT_PLAN)
    assert tuple(f"{d.flow_name}/{d.name}" for d in deployments) == DEPLOYMENT_NAMES
    for d in deployments:
        assert d.parameters == {"orbit_home": str(tmp_path), "plan": str(DEFAULT_PLAN)}


def test_nightly_runs_at_two_in_the_plans_timezone(default_plans, tmp_path):
    from prefect.server.schemas.schedules import CronSchedule as ServerCron

    nightly = build_deployments(Home(tmp_path), default_plans, DEFAULT_PLAN)[0]
    (schedule,) = [s.schedule for s in nightly.schedules]
    assert default_plans.base.timezone == "America/Bogota"
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "America/Bogota")
    # what the server's scheduler will make of it, from an arbitrary instant
    start = dt.datetime(2026, 3, 7, 8, 30, tzinfo=dt.timezone.utc)  # 03:30 in Bogota: today's 02:00 has passed
    dates = asyncio.run(ServerCron(cron=schedule.cron, timezone=schedule.timezone).get_dates(n=3, start=start))
    local = [d.astimezone(ZoneInfo("America/Bogota")) for d in dates]
    assert [(d.date(), d.hour, d.minute) for d in local] == [
        (dt.date(2026, 3, 8), 2, 0), (dt.date(2026, 3, 9), 2, 0), (dt.date(2026, 3, 10), 2, 0)]
    assert dates[0] == dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.timezone.utc)


def test_triggers_pass_the_event_payload_and_are_scoped_to_one_home(default_plans, tmp_path):
    _, ingest, evaluate = build_deployments(Home(tmp_path), default_plans, DEFAULT_PLAN)
    (on_arrival,), (on_update,) = ingest.triggers, evaluate.triggers
    assert on_arrival.expect == {FILE_ARRIVED} and on_update.expect == {DATASET_UPDATED}
    assert on_arrival.parameters == {"file": "{{ event.payload.file }}"}
    assert on_update.parameters == {"periods": "{{ event.payload.periods }}"}
    for trigger in (on_arrival, on_update):
        assert trigger.match.model_dump() == {"orbit.home": str(tmp_path)}


def test_an_arrival_run_ingests_what_is_waiting_in_order_evaluates_and_publishes(seeded, default_plans):
    """The arrival run of one file takes along the files before it and the complete ones after it, stops at
    the first incomplete one (ledger order is never broken), re-evaluates the touched periods and publishes
    in the same run; evaluate-on-change for the same periods then finds them published already."""
    import os
    import time

    from flows.deployments import waiting_files
    from warehouse.db import open_warehouse
    from warehouse.read import touched_periods

    home, frames = seeded
    july = frames["activities"].filter(frames["activities"]["occurred_at"].str.starts_with("2026-07-15")).head(5)
    assert july.height
    delivered = max(p.stat().st_mtime for p in home.landing.rglob("*.csv"))  # the seeded files: before these
    time.sleep(max(0.0, delivered + 4 - time.time()))
    now = time.time()
    # one.csv: the arrival; zero.csv delivered before it; after.csv complete (settled); fresh.csv still being
    # written (just modified); last.csv complete but after fresh.csv, so it must wait for fresh.csv
    for name, rows, mtime in (("zero.csv", july.head(2), delivered + 1), ("one.csv", july, delivered + 2),
                              ("after.csv", july.head(3), delivered + 3), ("fresh.csv", july.head(1), now + 5),
                              ("last.csv", july.head(4), now + 6)):
        path = home.landing / "activities" / name
        rows.with_columns(event_id=rows["event_id"] + f"-{name}").write_csv(path)
        os.utime(path, (mtime, mtime))
    (home.landing / "activities" / "last.csv.done").write_text("")
    waiting = waiting_files(home, "activities/one.csv", now=now)  # (files already ingested come first)
    assert waiting[-3:] == ["activities/zero.csv", "activities/one.csv", "activities/after.csv"]
    assert "activities/fresh.csv" not in waiting and "activities/last.csv" not in waiting
    runs_before = _rows(home.warehouse, "SELECT count(*) FROM runs")[0][0]

    ingest_file_flow("activities/one.csv", str(home.root), str(DEFAULT_PLAN))
    ledger = [f for (f,) in _rows(home.warehouse, "SELECT file FROM ingestion_log ORDER BY seq")]
    assert ledger[-3:] == ["activities/zero.csv", "activities/one.csv", "activities/after.csv"]
    assert "activities/fresh.csv" not in ledger and "activities/last.csv" not in ledger
    assert _rows(home.warehouse, "SELECT count(*) FROM runs")[0][0] == runs_before + 1  # evaluated here
    assert _rows(home.published, "SELECT count(*) FROM ingestion_log WHERE file = 'activities/one.csv'") == [(1,)]
    with open_warehouse(home.warehouse, read_only=True) as con:
        periods = touched_periods(con, default_plans, ["activities/one.csv"])["activities"]
    assert "2026-Q3" in periods

    # the same periods again, from the same inputs: already published, nothing is recomputed
    evaluate_change_flow(str(home.root), str(DEFAULT_PLAN), periods)
    assert _rows(home.warehouse, "SELECT count(*) FROM runs")[0][0] == runs_before + 1
    for name in ("fresh.csv", "last.csv", "last.csv.done"):
        (home.landing / "activities" / name).unlink()

    # a touched period without data (an opportunity dated before the data starts) is left out, not refused
    evaluate_change_flow(str(home.root), str(DEFAULT_PLAN), ["2026-Q1", "2026-Q3"])
    assert _rows(home.warehouse, "SELECT count(*) FROM run_failures") == [(0,)]
    assert _rows(home.warehouse, "SELECT count(*) FROM employee_scores WHERE period = '2026-Q1'") == [(0,)]


def test_a_failed_run_is_recorded_and_the_last_good_snapshot_stays(seeded):
    from orbit.status import render_status

    home, _ = seeded
    scores = "SELECT count(*), sum(hash(employee_id || period || composite_exact)) FROM employee_scores"
    before = _rows(home.published, scores)
    with pytest.raises(ValueError, match="2026-Q9"):
        evaluate_change_flow(str(home.root), str(DEFAULT_PLAN), ["2026-Q9"])
    failures = _rows(home.warehouse, "SELECT kind, flow_run_id, error_type, message, started_at <= failed_at "
                                     "FROM run_failures")
    assert len(failures) == 1
    kind, flow_run_id, error_type, message, ordered = failures[0]
    assert (kind, error_type, ordered) == ("evaluate", "ValueError", True)
    assert flow_run_id and "2026-Q9" in message
    assert _rows(home.published, "SELECT kind, flow_run_id, error_type FROM run_failures") == \
        [(kind, flow_run_id, error_type)]
    assert _rows(home.published, scores) == before
    status = render_status(home)
    section = status.split("Recent failures")[1]
    assert "evaluate" in section and "ValueError" in section and "2026-Q9" in section


def test_writers_take_turns(tmp_path):
    """Two writing runs of one home in one process (two threads): the second waits for the first."""
    from flows.common import writing_run

    home = Home(tmp_path / "home")
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first_writer():
        with writing_run(home, "test"):
            holding.set()
            release.wait(60)
            order.append("first done")

    def second_writer():
        with writing_run(home, "test"):
            order.append("second in")

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert holding.wait(60)
    second = threading.Thread(target=second_writer)
    second.start()
    second.join(1.0)
    assert second.is_alive() and order == []  # waiting
    release.set()
    thread.join(60)
    second.join(60)
    assert order == ["first done", "second in"]


def test_a_verb_holding_the_lock_runs_its_prefect_flow_within_it(seeded, tmp_path):
    """With a Prefect API (`PREFECT_API_URL`), a CLI verb holds the writer lock and runs the real Prefect
    flow, which takes the lock again: Prefect runs a sync flow in the calling thread, so it re-enters
    instead of waiting for itself."""
    from flows.engine import in_direct_mode
    from flows.export import export_bonus_flow
    from warehouse.lock import writer_lock

    home, _ = seeded
    done: list = []

    def verb() -> None:
        assert not in_direct_mode()
        with writer_lock(home.root, "export"):
            done.append(export_bonus_flow(home, "2026-Q3", "csv", tmp_path, True))

    thread = threading.Thread(target=verb)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the flow waited for the lock its own verb holds"
    assert done and done[0].exists()
