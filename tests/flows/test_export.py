"""HR's bonus export through the CLI: closed periods only, formula-safe, byte-identical under any TZ/locale/threads,
owner-read-only, audited, and the audit chain catches a tampered row."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from orbit.cli import app
from transforms.export import EXPORT_COLUMNS
from warehouse.home import Home

END = dt.date(2026, 9, 30)
PERIOD = "2026-Q3"
# (a leading tab or CR does not survive ingest's trimming; tests/transforms/test_export.py covers those)
HOSTILE = {0: '=HYPERLINK("http://example.invalid","click")', 1: "+1+2", 2: "-2+3", 3: "@SUM(A1:A9)"}
runner = CliRunner()


def _second_locale() -> str:
    available = set(subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split())
    return next((loc for loc in ("de_DE.UTF-8", "de_DE.utf8", "ja_JP.UTF-8", "ja_JP.utf8", "C.UTF-8", "C.utf8")
                 if loc in available), "POSIX")


@pytest.fixture(scope="module")
def closed(prefect_harness, default_plans, tmp_path_factory):
    from flows.close import close_flow
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("orbit") / "home").ensure()
    frames = generate_org(employees=14, months=3, seed=21, end_date=END, plan=default_plans.base)
    roster = frames["employees"]
    ids = roster["employee_id"].unique(maintain_order=True).to_list()
    hostile = {ids[i]: name for i, name in HOSTILE.items()}
    frames["employees"] = roster.with_columns(
        pl.col("employee_id").replace_strict(hostile, default=pl.col("full_name")).alias("full_name"))
    write_org(frames, home.landing, end_date=END)
    run_flow(home, default_plans)
    close_flow(home, PERIOD)
    return home, hostile


# DuckDB has no environment variable for its thread count: this start-up hook sets it on every connection the
# export process opens, and records the setting DuckDB reports, so the test knows the variation was real.
_DUCKDB_THREADS_HOOK = """
import os
import duckdb

_connect = duckdb.connect


def connect(*args, config=None, **kwargs):
    con = _connect(*args, config={**(config or {}), "threads": int(os.environ["TEST_DUCKDB_THREADS"])}, **kwargs)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    with open(os.environ["TEST_DUCKDB_THREADS_SEEN"], "a") as fh:
        fh.write(f"{threads}\\n")
    return con


duckdb.connect = connect
"""


def _export_in_subprocess(home: Home, out: Path, fmt: str, env_extra: dict[str, str], *flags: str) -> Path:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "ORBIT_HOME": str(home.root), "PREFECT_API_URL": PREFECT_API_URL.value(), **env_extra}
    proc = subprocess.run([sys.executable, "-m", "orbit", "export", "bonus", "--period", PERIOD, "--format", fmt,
                           "--out", str(out), *flags], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return next(out.glob(f"bonus_{PERIOD}*.{fmt}"))


@pytest.fixture(scope="module")
def exports(closed, tmp_path_factory):
    """Each format exported twice, in processes with different TZ, locale and polars and DuckDB thread counts."""
    home, _ = closed
    hook = tmp_path_factory.mktemp("hook")
    (hook / "sitecustomize.py").write_text(_DUCKDB_THREADS_HOOK)
    seen = [hook / "threads-0", hook / "threads-1"]
    path = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    environments = [
        {"TZ": "UTC", "LC_ALL": "C", "POLARS_MAX_THREADS": "1", "TEST_DUCKDB_THREADS": "1"},
        {"TZ": "Asia/Tokyo", "LC_ALL": _second_locale(), "POLARS_MAX_THREADS": "3", "TEST_DUCKDB_THREADS": "4"},
    ]
    paths = {}
    for fmt in ("csv", "xlsx"):
        for i, env in enumerate(environments):
            env = {**env, "PYTHONPATH": path, "TEST_DUCKDB_THREADS_SEEN": str(seen[i])}
            paths[fmt, i] = _export_in_subprocess(home, tmp_path_factory.mktemp(f"{fmt}{i}"), fmt, env)
    assert set(seen[0].read_text().split()) == {"1"} and set(seen[1].read_text().split()) == {"4"}
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_is_byte_identical_across_timezone_locale_and_threads(exports, fmt):
    first, second = exports[fmt, 0].read_bytes(), exports[fmt, 1].read_bytes()
    assert first == second
    assert exports[fmt, 0].name == f"bonus_{PERIOD}.{fmt}"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_is_owner_read_only(exports, fmt):
    assert stat.S_IMODE(os.stat(exports[fmt, 0]).st_mode) == 0o600


@pytest.mark.slow
def test_csv_columns_order_and_no_formulas(closed, exports):
    _, hostile = closed
    table = pl.read_csv(exports["csv", 0], infer_schema=False)
    assert table.columns == EXPORT_COLUMNS
    assert table["employee_id"].to_list() == sorted(table["employee_id"].to_list())
    names = dict(zip(table["employee_id"], table["full_name"]))
    for emp, name in hostile.items():
        assert names[emp] == "'" + name
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for col in table.columns
                   for v in table[col].drop_nulls())


@pytest.mark.slow
def test_xlsx_numbers_are_numbers_text_is_text_with_fixed_dates(closed, exports):
    _, hostile = closed
    data = exports["xlsx", 0].read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
        core = z.read("docProps/core.xml").decode()
    assert "<f>" not in sheet_xml  # no formula anywhere
    assert "2026-09-30T00:00:00Z" in core  # created/modified: the period's last day, not the clock
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    assert header == EXPORT_COLUMNS
    col = {name: i for i, name in enumerate(header)}
    for row in rows[1:]:
        for name in ("employee_id", "full_name", "department", "period", "currency", "plan_version", "run_id"):
            assert row[col[name]].data_type == "s", name
        for name in ("composite", "payout_multiplier"):
            assert row[col[name]].data_type == "n" and row[col[name]].number_format == "0.000000"
        assert row[col["bonus_amount"]].data_type == "n" and row[col["bonus_amount"]].number_format == "#,##0.00"
        assert row[col["incomplete"]].data_type == "b" and row[col["partial"]].data_type == "b"
        for name in ("first_data_day", "last_data_day"):
            assert row[col[name]].is_date and row[col[name]].number_format == "yyyy-mm-dd"
    names = {row[0].value: row[1].value for row in rows[1:]}
    for emp, name in hostile.items():
        assert names[emp] == "'" + name
    # the same figures as the CSV, to the last decimal
    csv_rows = pl.read_csv(exports["csv", 0], infer_schema=False).rows()
    assert len(csv_rows) == len(rows) - 1
    for cells, text in zip(rows[1:], csv_rows):
        for cell, value in zip(cells, text):
            if cell.data_type == "n":
                assert Decimal(repr(cell.value)) == Decimal(value)
            elif cell.data_type == "b":
                assert str(cell.value).lower() == value
            elif cell.is_date:
                assert cell.value.date().isoformat() == value
            else:
                assert ("" if cell.value is None else cell.value) == ("" if value is None else value)


@pytest.mark.slow
def test_a_spreadsheet_engine_sums_the_bonus_column_to_the_exports_total(exports, tmp_path):
    """LibreOffice (headless) opens the XLSX with SUM and COUNT formulas added below it, recomputes, and
    writes CSV: the sum of bonus_amount is the export's total to the cent, and ids stay text."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is missing: `make spreadsheet` installs Debian's libreoffice-calc"
    csv_table = pl.read_csv(exports["csv", 0], infer_schema=False)
    total = sum((Decimal(v) for v in csv_table["bonus_amount"].drop_nulls()), Decimal(0))
    composites = sum((Decimal(v) for v in csv_table["composite"]), Decimal(0))
    n = csv_table.height
    book = openpyxl.load_workbook(exports["xlsx", 0])
    sheet = book.active
    col = {c.value: c.column_letter for c in sheet[1]}
    bonus, composite, ident = col["bonus_amount"], col["composite"], col["employee_id"]
    sheet[f"A{n + 3}"] = f"=ROUND(SUM({bonus}2:{bonus}{n + 1}),2)"
    sheet[f"B{n + 3}"] = f"=COUNT({bonus}2:{bonus}{n + 1})"
    sheet[f"C{n + 3}"] = f"=COUNT({ident}2:{ident}{n + 1})"
    sheet[f"D{n + 3}"] = f"=ROUND(SUM({composite}2:{composite}{n + 1}),6)"
    with_sums = tmp_path / "with_sums.xlsx"
    book.save(with_sums)
    proc = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--norestore",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(tmp_path / "out"), str(with_sums)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    computed = (tmp_path / "out" / "with_sums.csv").read_text().splitlines()[n + 2].split(",")
    assert Decimal(computed[0]) == total and total > 0
    assert int(computed[1]) == csv_table["bonus_amount"].drop_nulls().len() == n  # every amount is a number
    assert int(computed[2]) == 0  # ids are text
    assert Decimal(computed[3]) == composites


@pytest.mark.slow
def test_draft_xlsx_is_marked(closed, tmp_path):
    home, _ = closed
    path = _export_in_subprocess(home, tmp_path, "xlsx", {}, "--draft")
    assert path.name == f"bonus_{PERIOD}_DRAFT.xlsx"
    header = [c.value for c in next(openpyxl.load_workbook(path).active.iter_rows())]
    assert header == EXPORT_COLUMNS + ["status"]


def test_open_period_needs_draft_and_bad_format_exits_2(closed, monkeypatch):
    home, _ = closed
    monkeypatch.setenv("ORBIT_HOME", str(home.root))
    result = runner.invoke(app, ["export", "bonus", "--period", "2026-Q2"])
    assert result.exit_code == 2 and "no evaluated results" in result.output
    result = runner.invoke(app, ["export", "bonus", "--period", PERIOD, "--format", "pdf"])
    assert result.exit_code == 2 and "csv or xlsx" in result.output


@pytest.mark.slow
def test_each_export_is_audited_and_a_tampered_row_is_named(closed, exports, tmp_path, monkeypatch):
    home, _ = closed
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        rows = con.execute("SELECT seq, action, period, run_id, plan_version, input_hashes, output_sha256, actor "
                           "FROM audit_log WHERE action = 'export_bonus' ORDER BY seq").fetchall()
    assert len(rows) >= 4 and all(r[2] == PERIOD and all(r[3:]) for r in rows)
    assert hashlib.sha256(exports["xlsx", 0].read_bytes()).hexdigest() in {r[6] for r in rows}
    copy = Home(tmp_path / "copy").ensure()
    shutil.copy(home.warehouse, copy.warehouse)
    monkeypatch.setenv("ORBIT_HOME", str(copy.root))
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    victim = rows[1][0]
    with duckdb.connect(str(copy.warehouse)) as con:
        con.execute("UPDATE audit_log SET output_sha256 = repeat('0', 64) WHERE seq = ?", [victim])
    tampered = runner.invoke(app, ["audit", "verify"])
    assert tampered.exit_code == 1
    assert f"audit row {victim}:" in tampered.output and "tampered" in tampered.output
