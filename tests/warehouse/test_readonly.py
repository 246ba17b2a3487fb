"""Readers that write nothing and the pipeline's writers: a simulation reads one consistent copy and holds the
warehouse only for the copy; a writer waits out a short reader instead of failing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from warehouse.db import WarehouseBusy, connect, open_warehouse
from warehouse.readonly import NoWarehouse, read_inputs


def hold(path: Path, seconds: float, *, read_only: bool) -> subprocess.Popen:
    """Another process opens ``path`` (read-only or read-write) for ``seconds``; returns once it holds it."""
    code = ("import duckdb, sys, time; con = duckdb.connect(sys.argv[1], read_only=sys.argv[3] == '1'); "
            "print('held', flush=True); time.sleep(float(sys.argv[2])); con.close()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds), "1" if read_only else "0"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture()
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path):
        pass
    return path


def test_a_writer_waits_for_a_reader_to_let_go(warehouse, monkeypatch) -> None:
    proc = hold(warehouse, 0.8, read_only=True)
    started = time.monotonic()
    con = connect(warehouse)  # would fail at once without the wait
    con.close()
    assert time.monotonic() - started >= 0.3
    assert proc.wait(timeout=30) == 0
    monkeypatch.setenv("ORBIT_READER_WAIT_SECONDS", "0.2")  # bounded: a reader that stays is reported
    proc = hold(warehouse, 3, read_only=True)
    with pytest.raises(WarehouseBusy):
        connect(warehouse)
    assert proc.wait(timeout=30) == 0


def test_read_inputs_reads_a_consistent_copy_and_waits_for_a_writer(warehouse, tmp_path, monkeypatch) -> None:
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO activities (event_id, occurred_at, employee_id, department, activity_type, _file, "
                    "_line, _sha256, _loaded_at, _row_hash) VALUES ('A1', TIMESTAMPTZ '2026-07-01 12:00:00+00', "
                    "'E1', 'sales', 'meeting_held', 'f', 1, 's', now(), 1)")
    proc = hold(warehouse, 1.0, read_only=False)
    started = time.monotonic()
    frames, as_of, closed = read_inputs(warehouse, None, wait_seconds=30)
    assert time.monotonic() - started >= 0.5 and proc.wait(timeout=30) == 0
    assert frames["activities"]["event_id"].to_list() == ["A1"] and as_of is not None and closed == {}
    assert not list(scratch.iterdir())  # the private copy is removed


def test_read_inputs_without_a_warehouse(tmp_path) -> None:
    with pytest.raises(NoWarehouse):
        read_inputs(tmp_path / "none.duckdb", None)
