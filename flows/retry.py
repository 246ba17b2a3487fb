"""The one retry policy of Orbit's tasks: retry what a retry can fix — I/O errors (a busy or briefly
unreachable file, DuckDB's IOException) — never bad input or a bug. Tasks that do no I/O do not retry."""

from __future__ import annotations

from warehouse.db import IO_ERRORS


def retry_on_io_error(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: True only when the task failed with an I/O error."""
    try:
        state.result()
    except IO_ERRORS:
        return True
    except BaseException:  # noqa: BLE001 - anything else is not worth a retry
        return False
    return False


#: ``@task(**IO_RETRIES, ...)`` for every task that reads or writes files or the warehouse.
IO_RETRIES = dict(retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_on_io_error)
