"""Generate an organisation (the steps in their fixed order) and write it into landing folders."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import numpy as np
import polars as pl

from orbit.synth import activities, employees, feedback, measurements, opportunities, targets
from orbit.synth.bad_rows import add_bad_rows
from orbit.synth.model import Org
from schemas.contracts import DATASETS
from schemas.plan import Plan

log = logging.getLogger(__name__)

DATASET_ORDER = ("employees", "opportunities", "activities", "measurements", "feedback", "targets")


def default_end_date(today: dt.date) -> dt.date:
    """The last day of the last complete month before ``today``."""
    return today.replace(day=1) - dt.timedelta(days=1)


def generate_org(
    *, employees: int, months: int, seed: int, end_date: dt.date, plan: Plan, bad_rows: float = 0.0
) -> dict[str, pl.DataFrame]:
    """Pure: returns one all-Utf8 DataFrame per dataset (employees, opportunities, activities,
    measurements, feedback, targets), columns in contract order, values already formatted as
    they appear in files."""
    if months < 1:
        raise ValueError("months must be at least 1")
    if employees < len(plan.departments):
        raise ValueError(f"employees must be at least {len(plan.departments)} (one per plan department)")
    if not 0 <= bad_rows < 1:
        raise ValueError("bad_rows is a fraction in [0, 1)")
    rng = np.random.default_rng(seed)
    org = Org(rng, employees, months, end_date, plan)
    _draw(org)
    frames = _frames(org)
    if bad_rows > 0:
        frames = {name: add_bad_rows(rng, name, df, bad_rows, end_date) for name, df in frames.items()}
    log.info("generated organisation: %s", ", ".join(f"{k}={v.height}" for k, v in frames.items()))
    return frames


def _draw(org: Org) -> None:
    """Every step draws from the one generator, so this order is part of the output bytes.
    (Inside ``generate_org`` the name ``employees`` is the head count, hence this function.)"""
    employees.generate(org)
    opportunities.generate(org)
    activities.generate(org)
    activities.finish(org)
    measurements.generate(org)
    feedback.generate(org)
    targets.generate(org)


def _frames(org: Org) -> dict[str, pl.DataFrame]:
    """The datasets as all-Utf8 frames in contract column order (no randomness here)."""
    emp_ids = employees.employee_ids(org)
    out = {"employees": employees.frame(org, emp_ids), "opportunities": opportunities.frame(org, emp_ids),
           "activities": activities.frame(org, emp_ids), "measurements": measurements.frame(org, emp_ids),
           "feedback": feedback.frame(org, emp_ids), "targets": targets.frame(org, emp_ids)}
    return {k: v.select(DATASETS[k].column_names).cast(pl.String) for k, v in out.items()}


def write_org(frames: dict[str, pl.DataFrame], landing: Path, *, end_date: dt.date) -> dict[str, Path]:
    """Writes landing/<dataset>/<dataset>_<end_date>.csv (UTF-8, header row, empty string for null)
    and returns the paths. Same frames -> same bytes."""
    landing = Path(landing)
    paths: dict[str, Path] = {}
    for name in [n for n in DATASET_ORDER if n in frames] + sorted(set(frames) - set(DATASET_ORDER)):
        folder = landing / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}_{end_date.isoformat()}.csv"
        tmp = folder / f".{path.name}.part"  # hidden until complete: file watchers never see half a file
        frames[name].write_csv(tmp, include_header=True, null_value="", line_terminator="\n",
                               check_extension=False)
        os.replace(tmp, path)
        paths[name] = path
        log.info("wrote %s (%d rows)", path, frames[name].height)
    return paths

