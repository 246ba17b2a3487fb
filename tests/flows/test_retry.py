"""The one retry policy (flows/retry.py), through real Prefect task runs: I/O errors are retried,
anything else fails at once."""

from __future__ import annotations

import duckdb
import pytest
from prefect import flow, task

from flows.retry import IO_RETRIES

ATTEMPTS: list[str] = []


@task(**{**IO_RETRIES, "retry_delay_seconds": 0}, persist_result=False)
def flaky(error: type[BaseException], failures: int) -> str:
    ATTEMPTS.append(error.__name__)
    if len(ATTEMPTS) <= failures:
        raise error("boom")
    return "done"


@flow(persist_result=False)
def run_flaky(error: type[BaseException], failures: int) -> str:
    return flaky(error, failures)


@pytest.mark.parametrize("error", [OSError, duckdb.IOException])
def test_io_errors_are_retried(prefect_harness, error):
    ATTEMPTS.clear()
    assert run_flaky(error, 2) == "done"
    assert len(ATTEMPTS) == 3  # two failures, two retries


def test_other_errors_are_not_retried(prefect_harness):
    ATTEMPTS.clear()
    with pytest.raises(ValueError, match="boom"):
        run_flaky(ValueError, 1)
    assert ATTEMPTS == ["ValueError"]


def test_io_errors_beyond_the_retries_fail_the_run(prefect_harness):
    ATTEMPTS.clear()
    with pytest.raises(OSError, match="boom"):
        run_flaky(OSError, 5)
    assert len(ATTEMPTS) == 3
