"""Reading the warehouse: typed polars frames (see docs/dev/frames.md), a run's inputs, the periods new rows touch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from schemas.derive import polars_schema
from schemas.marts import frame_schema
from schemas.plan import PlanSet
from transforms.coverage import DATA_COLUMNS, no_data_message
from transforms.periods import Period, answer_window, find_touched_periods, touched_columns
from transforms.runs import make_run_id
from warehouse.db import query_frame
from warehouse.operations import rows_from_files
from warehouse.sql import ident


def load_frames(con: duckdb.DuckDBPyConnection,
                columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, pl.DataFrame]:
    """The current version of every row of every dataset: its contract columns, or only ``columns[name]``
    (a subset of the contract's, in any order) where given."""
    frames = {}
    for name, ds in DATASETS.items():
        wanted = list(columns[name]) if columns and name in columns else ds.column_names
        unknown = sorted(set(wanted) - set(ds.column_names))
        if unknown:
            raise ValueError(f"{name} has no column(s) {', '.join(unknown)} in its contract")
        contract = polars_schema(ds)
        schema = {c: contract[c] for c in wanted}
        frame = query_frame(con, f"SELECT {', '.join(wanted)} FROM {name}")
        frames[name] = frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)
    return frames


def input_hashes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """SHA-256 of every file whose rows are in the warehouse, sorted (part of a run's identity); a source's
    file read through a mapping as ``<file sha>:<mapping sha>`` (the same file under another mapping is
    other input)."""
    rows = con.execute("SELECT DISTINCT sha256 || coalesce(':' || mapping_sha256, '') FROM ingestion_log "
                       "WHERE status = 'loaded' ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def latest_activity_at(con: duckdb.DuckDBPyConnection):
    return con.execute("SELECT max(occurred_at) FROM activities").fetchall()[0][0]


def data_extent(con: duckdb.DuckDBPyConnection, start=None, end=None):
    """First and last instant (UTC) of the data (:data:`transforms.coverage.DATA_COLUMNS`) in
    ``[start, end)``, unbounded where None: the warehouse's answer to :func:`transforms.coverage.data_extent`."""
    lows, highs = [], []
    for table, column in DATA_COLUMNS.items():
        col = ident(column)
        where = [f"{col} IS NOT NULL"] + ([f"{col} >= ?"] if start else []) + ([f"{col} < ?"] if end else [])
        lo, hi = con.execute(f"SELECT min({col}), max({col}) FROM {ident(table)} WHERE {' AND '.join(where)}",
                             [v for v in (start, end) if v]).fetchall()[0]
        if lo is not None:
            lows.append(lo)
            highs.append(hi)
    return (min(lows), max(highs)) if lows else (None, None)


def period_data_check(con: duckdb.DuckDBPyConnection, period: Period, tz: str) -> str | None:
    """None when ``period`` holds data; else one line saying it has none and what the data covers."""
    if data_extent(con, period.start_utc(tz), period.end_utc(tz))[0] is not None:
        return None
    return no_data_message(period.label, data_extent(con), tz)
def data_quality_findings(con: duckdb.DuckDBPyConnection, check: str) -> pl.DataFrame:
    """The ``data_quality`` rows of one check (of the warehouse or a snapshot), with the declared columns
    a transform produces; empty when the table does not exist yet."""
    schema = frame_schema("data_quality")
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'data_quality' "
                       "AND table_schema = 'main'").fetchall()[0][0]:
        return pl.DataFrame(schema=schema)
    cols = ", ".join(ident(c) for c in schema)
    frame = query_frame(con, f'SELECT {cols} FROM data_quality WHERE "check" = ? ORDER BY period, examples', [check])
    return frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)


def plan_bytes(source: Path) -> bytes:
    """The content of the plan file ``source``, or of every ``*.yaml``/``*.yml`` in the folder ``source``
    (sorted by path): with the input hashes, what a run_id is made of."""
    files = [source] if source.is_file() else sorted(source.glob("*.y*ml"))
    return b"".join(p.read_bytes() for p in sorted(files))


def current_run_id(con: duckdb.DuckDBPyConnection, plan_source: Path) -> str:
    """The run_id an evaluation of the warehouse's current inputs with the plan(s) at ``plan_source`` gets."""
    return make_run_id(input_hashes(con), plan_bytes(plan_source))


def touched_periods(con: duckdb.DuckDBPyConnection, plans: PlanSet, files: list[str],
                    datasets: list[str] | None = None) -> dict[str, list[str] | None]:
    """For each dataset loaded from ``files`` (``datasets``, by default the files' folders: ``<dataset>/<name>``;
    a source's file names its source's folder): the periods its new or changed rows touch (None: every
    period), read from the warehouse after loading (DESIGN "Periods touched")."""
    names = sorted((set(datasets) if datasets is not None else {f.split("/", 1)[0] for f in files}) & set(DATASETS))
    base = plans.base
    window = answer_window(plans)
    out: dict[str, list[str] | None] = {}
    for name in names:
        columns = touched_columns(name)
        rows = rows_from_files(con, name, columns, files) if columns else pl.DataFrame()
        opportunities = (rows_from_files(con, "opportunities", ["opportunity_id", *DATASETS["opportunities"].event_times])
                         if name == "activities" else None)
        out[name] = find_touched_periods(name, rows, base.timezone, base.period, opportunities=opportunities,
                                         answer_window=window)
    return out
