"""HR's bonus export as files: read the period's exact figures, check it may be exported
(:func:`transforms.export.check_export`), serialise CSV or XLSX, write owner-read-only, audit.

The bytes depend only on the period's stored figures: same inputs and plan, same bytes, whatever
the timezone, locale or threads.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import duckdb
import polars as pl

from transforms.export import check_export, export_text, shape_bonus_export
from transforms.periods import parse_period
from warehouse.audit import append_audit
from warehouse.db import open_warehouse, query_frame, transaction
from warehouse.periods import inputs_digest, run_inputs_digest, state_of
from warehouse.read import input_hashes


def csv_bytes(frame: pl.DataFrame, period: str) -> bytes:
    """The machine format: every value as text (fixed decimals, true/false, ISO dates)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(frame.columns)
    writer.writerows(export_text(frame).iter_rows())
    return buf.getvalue().encode("utf-8")


#: Excel number formats of the typed columns (built-in codes render the same in every locale's separators).
_FIGURE_FORMAT = "0.000000"
_MONEY_FORMAT = "#,##0.00"
_DATE_FORMAT = "yyyy-mm-dd"


def xlsx_bytes(frame: pl.DataFrame, period: str) -> bytes:
    """The spreadsheet format: one sheet where figures and money are numbers (money with a two-decimal
    format, so SUM works), booleans are booleans, dates are dates, and ids, names and every other text
    are strings (never converted to formulas, numbers or URLs; formula-like text arrives guarded).
    Document dates are fixed to the period's last day and zip entries dated 1980-01-01 by xlsxwriter, so
    the bytes depend on the figures only."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                     "strings_to_urls": False})
    book.set_properties({"title": f"Bonus inputs {period}", "created": dt.datetime.combine(parse_period(period).end,
                                                                                          dt.time())})
    formats = {"figure": book.add_format({"num_format": _FIGURE_FORMAT}),
               "money": book.add_format({"num_format": _MONEY_FORMAT}),
               "date": book.add_format({"num_format": _DATE_FORMAT})}
    sheet = book.add_worksheet("bonus")
    writers = []
    for col, (name, dtype) in enumerate(frame.schema.items()):
        sheet.write_string(0, col, name)
        if isinstance(dtype, pl.Decimal):
            fmt = formats["money"] if dtype.scale == 2 else formats["figure"]
            writers.append(lambda r, c, v, fmt=fmt: sheet.write_number(r, c, float(v), fmt))
        elif dtype == pl.Boolean:
            writers.append(sheet.write_boolean)
        elif dtype == pl.Date:
            writers.append(lambda r, c, v: sheet.write_datetime(r, c, dt.datetime.combine(v, dt.time()),
                                                                formats["date"]))
        else:
            writers.append(lambda r, c, v: sheet.write_string(r, c, str(v)))
    for row, values in enumerate(frame.iter_rows(), start=1):
        for col, value in enumerate(values):
            if value is None:
                sheet.write_blank(row, col, None)
            else:
                writers[col](row, col, value)
    sheet.freeze_panes(1, 0)
    book.close()
    return buf.getvalue()


WRITERS = {"csv": csv_bytes, "xlsx": xlsx_bytes}


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def check_bonus_export(con: duckdb.DuckDBPyConnection, period: str, fmt: str, draft: bool) -> None:
    """:func:`transforms.export.check_export` on what the warehouse holds for ``period``."""
    evaluated = bool(con.execute("SELECT count(*) FROM bonus_lines WHERE period = ?", [period]).fetchall()[0][0])
    state, closed_run = state_of(con, period)
    runs = {r for (r,) in con.execute("SELECT DISTINCT run_id FROM bonus_lines WHERE period = ?", [period]).fetchall()}
    check_export(period, fmt, draft, evaluated=evaluated, state=state, closed_run=closed_run, runs=runs)


def check_bonus_export_file(warehouse: Path, period: str, fmt: str, draft: bool) -> None:
    """:func:`check_bonus_export` on the warehouse file (what the CLI asks before starting the flow)."""
    with open_warehouse(warehouse) as con:
        check_bonus_export(con, period, fmt, draft)


def write_bonus_export(warehouse: Path, exports: Path, period: str, fmt: str, out: Path | None,
                       draft: bool) -> Path:
    """Write the bonus export of ``period`` (to ``out``, a file or folder, or ``exports/``) and audit it.
    Raises :class:`transforms.export.ExportError` if it may not be made. Returns the path written."""
    with open_warehouse(warehouse) as con:
        check_bonus_export(con, period, fmt, draft)
        lines = query_frame(con, "SELECT * FROM bonus_lines WHERE period = ? ORDER BY employee_id", [period])
        table = shape_bonus_export(lines, draft=draft)
        data = WRITERS[fmt](table, period)
        name = f"bonus_{period}{'_DRAFT' if draft else ''}.{fmt}"
        path = out if out is not None else exports / name
        if out is not None and out.is_dir():
            path = out / name
        write_private(path, data)
        run_ids = sorted(set(lines["run_id"].to_list()))
        with transaction(con):
            append_audit(
                con, "export_bonus_draft" if draft else "export_bonus", period=period, run_id=",".join(run_ids),
                plan_version=",".join(sorted(set(lines["plan_version"].to_list()))),
                input_hashes=run_inputs_digest(con, run_ids) or inputs_digest(input_hashes(con)),
                output_sha256=hashlib.sha256(data).hexdigest(), detail=f"{path.name}: {table.height} rows",
            )
    return path
