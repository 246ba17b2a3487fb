"""Great Expectations suites derived from the data contracts, and their per-row results.

The suite is the single source of the row rules (nulls, value sets, ranges, patterns,
future timestamps, conditional requirements). Each expectation carries its reason
code in ``meta``. The ingest runs the suite as SQL predicates compiled from it
(:func:`warehouse.rules.failures_sql`, inside the warehouse); :func:`validate_with_ge` runs it
through GE itself (pandas path: GE's SQL path on DuckDB returns empty metrics, see README) with
``result_format=COMPLETE`` and ``_line`` as the index column, and a test checks that both
reject exactly the same rows.

Only line numbers leave GE: failing raw values (possibly compensation data) are
dropped here and nothing is persisted (ephemeral context, no Data Docs).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from schemas.contracts import PLAN_CURRENCY, PLAN_DEPARTMENTS, Dataset

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
FUTURE_TOLERANCE = dt.timedelta(days=1)
log = logging.getLogger(__name__)


def _gx():
    import great_expectations as gx

    return gx


@lru_cache(maxsize=1)
def _context():
    gx = _gx()
    import great_expectations.data_context.types.base  # noqa: F401 - logs "Created temporary directory" at INFO

    for name in ["great_expectations", *logging.root.manager.loggerDict]:  # before the context logs anything
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite as plain data: GE's expectation type, its kwargs and ``meta`` (the reason).

    :func:`suite_rules` derives them from a contract; :func:`build_suite` turns them into a GE suite and
    :mod:`warehouse.rules` into SQL — the same rules either way, and the ingest
    never needs to import GE (≈ 3 s per process)."""

    expectation_type: str
    kwargs: dict
    meta: dict

    @property
    def column(self) -> str:
        return self.kwargs["column"]


def suite_rules(ds: Dataset, *, departments: list[str], currency: str, now: dt.datetime) -> list[Rule]:
    """The row rules of one dataset, for a plan's departments and currency."""
    sets = {PLAN_DEPARTMENTS: departments, PLAN_CURRENCY: [currency]}
    rules: list[Rule] = []

    def add(kind: str, reason: str, **kwargs) -> None:
        rules.append(Rule(f"expect_column_values_to_{kind}", kwargs, {"reason": reason}))

    for c in ds.columns:
        if not c.nullable:
            add("not_be_null", "null_key" if c.name in ds.key else "missing_value", column=c.name)
        if c.regex:
            add("match_regex", c.reason or "invalid_value", column=c.name, regex=c.regex)
        if c.values is not None:
            values = sets[c.values] if isinstance(c.values, str) else list(c.values)
            add("be_in_set", c.reason or "invalid_value", column=c.name, value_set=values)
        if c.min is not None or c.max is not None:
            add("be_between", c.reason or "out_of_range", column=c.name, min_value=c.min, max_value=c.max,
                strict_min=c.strict_min)
        if c.not_in_future:
            add("be_between", "future_timestamp", column=c.name, max_value=(now + FUTURE_TOLERANCE).isoformat())
    for rule in ds.required_when:
        add("not_be_null", rule.reason, column=rule.column,
            row_condition=f"{rule.when_column} in {list(rule.when_values)!r}", condition_parser="pandas")
    return rules


def build_suite(ds: Dataset, *, departments: list[str], currency: str, now: dt.datetime):
    """The Great Expectations suite of one dataset: :func:`suite_rules` as GE expectations."""
    gx = _gx()
    _context()  # GE needs an active (ephemeral) context before a suite can be built
    E = gx.expectations
    classes = {"expect_column_values_to_not_be_null": E.ExpectColumnValuesToNotBeNull,
               "expect_column_values_to_match_regex": E.ExpectColumnValuesToMatchRegex,
               "expect_column_values_to_be_in_set": E.ExpectColumnValuesToBeInSet,
               "expect_column_values_to_be_between": E.ExpectColumnValuesToBeBetween}
    suite = gx.ExpectationSuite(name=f"orbit.{ds.name}")
    for rule in suite_rules(ds, departments=departments, currency=currency, now=now):
        suite.add_expectation(classes[rule.expectation_type](**rule.kwargs, meta=rule.meta))
    return suite


def _to_pandas(frame: pl.DataFrame):
    """GE's pandas path: decimals as float (range checks only), timestamps as UTC datetimes."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64)).to_pandas()


FAILURE_SCHEMA = pl.Schema({"_line": pl.Int64, "reason": pl.Utf8, "column": pl.Utf8})


def validate_with_ge(frame: pl.DataFrame, suite) -> pl.DataFrame:
    """Run a GE ``suite`` (:func:`build_suite`) on a typed frame (with ``_line``) through GE itself (pandas
    path); one row per failure: _line, reason, column (:data:`FAILURE_SCHEMA`)."""
    empty = FAILURE_SCHEMA.to_frame()
    ctx = _context()
    source = ctx.data_sources.add_or_update_pandas("orbit_ingest")
    asset = source.add_dataframe_asset(f"{suite.name}.{id(frame)}")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": _to_pandas(frame)})
    try:
        result = batch.validate(
            suite,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": ["_line"],
                "return_unexpected_index_query": False,
                "include_unexpected_rows": False,
            },
        )
    finally:
        source.delete_asset(asset.name)
    failures = []
    for r in result.results:
        if r.success:
            continue
        meta = r.expectation_config.meta or {}
        column = r.expectation_config.kwargs.get("column")
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"validation of {column} failed to run: {r.exception_info.get('exception_message')}")
        lines = [int(row["_line"]) for row in (r.result.get("unexpected_index_list") or [])]
        failures.append(pl.DataFrame({"_line": lines, "reason": meta.get("reason", "invalid_value"), "column": column},
                                     schema=empty.schema))
    return pl.concat([empty, *failures]).unique().sort("_line", "column", "reason")
