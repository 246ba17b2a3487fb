"""HR's bonus export: CSV (or XLSX) from the exact figures of one period, owner-read-only, audited."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import run_logger
from orbit.settings import Home
from transforms.export import shape_bonus_export
from warehouse.audit import append_audit
from warehouse.db import open_warehouse, query_frame, transaction
from warehouse.read import input_hashes


class ExportError(ValueError):
    """The export cannot be made as asked (bad period, not closed, nothing evaluated)."""


def _csv_bytes(frame) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(frame.columns)
    writer.writerows(frame.iter_rows())
    return buf.getvalue().encode("utf-8")


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def check_export(con, period: str, fmt: str, draft: bool) -> None:
    """Raise :class:`ExportError` (a message telling the user what to do) if the export cannot be made."""
    if fmt != "csv":
        raise ExportError(f"format {fmt!r} is not built yet; use --format csv")
    if not con.execute("SELECT count(*) FROM bonus_lines WHERE period = ?", [period]).fetchall()[0][0]:
        raise ExportError(f"no evaluated results for period {period}; run `orbit evaluate --period {period}` first")
    if not draft:
        raise ExportError(
            f"period {period} is not closed; HR exports need a closed period. "
            "Use --draft for a draft export (period close arrives with `orbit close`)."
        )


@task(persist_result=False, cache_policy=NO_CACHE)
def write_export(home: Home, period: str, fmt: str, out: Path | None, draft: bool) -> Path:
    with open_warehouse(home.warehouse) as con:
        check_export(con, period, fmt, draft)
        lines = query_frame(con, "SELECT * FROM bonus_lines WHERE period = ? ORDER BY employee_id", [period])
        table = shape_bonus_export(lines, draft=draft)
        data = _csv_bytes(table)
        name = f"bonus_{period}{'_DRAFT' if draft else ''}.{fmt}"
        path = out if out is not None else home.exports / name
        if out is not None and out.is_dir():
            path = out / name
        _write_private(path, data)
        run_ids = sorted(set(lines["run_id"].to_list()))
        with transaction(con):
            append_audit(
                con, "export_bonus_draft" if draft else "export_bonus", period=period, run_id=",".join(run_ids),
                plan_version=",".join(sorted(set(lines["plan_version"].to_list()))),
                input_hashes=hashlib.sha256(",".join(input_hashes(con)).encode()).hexdigest(),
                output_sha256=hashlib.sha256(data).hexdigest(), detail=f"{path.name}: {table.height} rows",
            )
    return path


@flow(name="orbit-export-bonus", persist_result=False)
def export_bonus_flow(home: Home, period: str, fmt: str = "csv", out: Path | None = None, draft: bool = False) -> Path:
    path = write_export(home, period, fmt, out, draft)
    run_logger().info("bonus export for %s written to %s", period, path)
    return path
