"""The flows run unchanged under Prefect's Dask task runner (prefect-dask) on a local LocalCluster.

The parallel unit is the evaluation's per-period `evaluate_one`; the ingest runs under the same
runner unchanged (each file is one DuckDB transaction of the one writer, in ledger order; see
docs/scaling.md for why it has no parallel staging step). Only the runner is chosen from outside
(`flow.with_options(task_runner=...)`); the marts must be identical to the
default runner's, row for row.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from warehouse.home import Home

END = dt.date(2026, 9, 30)
#: every mart the evaluation writes, compared without run-dependent columns
MARTS = {
    "evaluation_matrix": "run_id",
    "employee_scores": "run_id",
    "bonus_lines": "run_id",
    "attribution_credits": "run_id",
    "attribution_department_values": "run_id",
    "department_matrix": "run_id",
    "data_quality": "run_id",
    "ingestion_log": "seq, ingested_at, file_mtime",
    "quarantine": "quarantined_at",
}


def _marts(home: Home) -> dict[str, list[tuple]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        marts = {t: con.execute(f"SELECT * EXCLUDE ({drop}) FROM {t} ORDER BY ALL").fetchall()
                 for t, drop in MARTS.items()}
        marts["ledger order"] = con.execute("SELECT file FROM ingestion_log ORDER BY seq").fetchall()
    return marts


def _pipeline(home: Home, plans, task_runner=None) -> None:
    from flows.evaluate import evaluate_flow
    from flows.ingest import ingest_flow

    ingest, evaluate = ingest_flow, evaluate_flow
    if task_runner is not None:
        ingest = ingest_flow.with_options(task_runner=task_runner)
        evaluate = evaluate_flow.with_options(task_runner=task_runner)
    entries = ingest(home, plans)
    assert entries and all(e.status == "loaded" for e in entries)
    summary = evaluate(home, plans)
    assert len(summary.periods) >= 2  # several periods: several parallel evaluate_one tasks


@pytest.fixture(scope="module")
def landing(default_plans, tmp_path_factory):
    """One generated organisation (with bad rows, so quarantine is exercised too), copied per home."""
    from orbit.synth import generate_org, write_org

    frames = generate_org(employees=40, months=6, seed=11, end_date=END, plan=default_plans.base, bad_rows=0.02)
    root = tmp_path_factory.mktemp("dask-landing")
    write_org(frames, root, end_date=END)
    return root


def _home_with(landing, path) -> Home:
    import shutil

    home = Home(path).ensure()
    shutil.copytree(landing, home.landing, dirs_exist_ok=True)
    return home


@pytest.fixture(scope="module")
def default_marts(prefect_harness, default_plans, landing, tmp_path_factory):
    home = _home_with(landing, tmp_path_factory.mktemp("default") / "home")
    _pipeline(home, default_plans)
    return _marts(home)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_runner_gives_identical_marts(processes, default_marts, prefect_harness, default_plans, landing,
                                           tmp_path):
    from distributed import Client, LocalCluster, get_task_stream
    from prefect_dask import DaskTaskRunner

    home = _home_with(landing, tmp_path / "home")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        _pipeline(home, default_plans, DaskTaskRunner(address=cluster.scheduler_address))
    on_cluster = [str(t["key"]) for t in stream.data]
    assert sum("evaluate_one" in k for k in on_cluster) >= 2, on_cluster  # the periods ran on Dask workers
    got = _marts(home)
    assert {t: len(rows) for t, rows in got.items()} == {t: len(rows) for t, rows in default_marts.items()}
    for table in default_marts:
        assert got[table] == default_marts[table], table
