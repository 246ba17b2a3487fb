"""Shared fixtures: one Prefect test harness per session (starting one costs seconds)."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def home(tmp_path, monkeypatch):
    from warehouse.home import Home

    monkeypatch.setenv("ORBIT_HOME", str(tmp_path / "home"))
    return Home.from_env().ensure()


@pytest.fixture(scope="session")
def default_plans():
    from schemas.plan import PlanSet
    from warehouse.home import DEFAULT_PLAN

    return PlanSet.load(DEFAULT_PLAN)
