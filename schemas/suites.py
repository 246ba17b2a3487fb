"""Great Expectations suites derived from the data contracts, and their per-row results.

The suite is the single source of the row rules (nulls, value sets, ranges, patterns,
future timestamps, conditional requirements). Each expectation carries its reason
code in ``meta``. The ingest runs the suite as SQL predicates compiled from it
(:func:`failures_sql`, inside the warehouse); :func:`validate_rows` also runs it through GE
itself (pandas path: GE's SQL path on DuckDB returns empty metrics, see README) with
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
    :func:`failing_sql` / :func:`failures_sql` into SQL — the same rules either way, and the ingest
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


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bound(value) -> str:
    """A between bound as SQL: a number as an exact numeric literal, ISO datetime text as TIMESTAMPTZ."""
    if isinstance(value, str):  # the suites' only text bounds are instants (GE may hand them back parsed)
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return f"CAST({_text(value.isoformat())} AS TIMESTAMPTZ)"
    return repr(value)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _condition(row_condition) -> str:
    """The only row_condition form the suites use: ``column in ['a', 'b']`` (GE may wrap it in a dict)."""
    import ast
    import re

    if isinstance(row_condition, dict):
        row_condition = row_condition.get("pass_through_filter", "")
    m = re.fullmatch(r"\s*(\w+) in (\[.*\])\s*", row_condition)
    if not m:
        raise ValueError(f"unsupported row_condition {row_condition!r}")
    values = ", ".join(_text(str(v)) for v in ast.literal_eval(m.group(2)))
    return f"{_ident(m.group(1))} IN ({values})"


def compile_expectation(exp) -> str:
    """A rule (or a GE expectation) as a SQL predicate that is true on the rows it rejects.

    GE's semantics: map expectations ignore nulls (only ``not_be_null`` rejects them), and a
    ``row_condition`` restricts the rows the expectation applies to.
    """
    kw = exp.configuration.kwargs if hasattr(exp, "configuration") else exp.kwargs
    col = _ident(kw["column"])
    kind = exp.expectation_type
    if kind == "expect_column_values_to_not_be_null":
        bad = f"{col} IS NULL"
    elif kind == "expect_column_values_to_be_in_set":
        values = ", ".join(_text(str(v)) for v in kw["value_set"])
        bad = f"{col} IS NOT NULL AND {col} NOT IN ({values})" if values else f"{col} IS NOT NULL"
    elif kind == "expect_column_values_to_match_regex":
        bad = f"{col} IS NOT NULL AND NOT regexp_matches({col}, {_text(kw['regex'])})"
    elif kind == "expect_column_values_to_be_between":
        parts = []
        if kw.get("min_value") is not None:
            parts.append(f"{col} {'<=' if kw.get('strict_min') else '<'} {_bound(kw['min_value'])}")
        if kw.get("max_value") is not None:
            parts.append(f"{col} {'>=' if kw.get('strict_max') else '>'} {_bound(kw['max_value'])}")
        bad = f"{col} IS NOT NULL AND ({' OR '.join(parts) or 'false'})"
    else:
        raise ValueError(f"no SQL form for {kind}; run the suite with engine='great_expectations'")
    if kw.get("row_condition"):
        bad = f"{_condition(kw['row_condition'])} AND {bad}"
    return f"coalesce({bad}, false)"


def failing_sql(rules) -> str:
    """A SQL predicate over a typed row that is true when it fails any of ``rules``."""
    return " OR ".join(compile_expectation(e) for e in rules) or "false"


def failures_sql(rules, table: str, candidates: str | None = None) -> str:
    """SQL giving one row per failure of ``rules`` on ``table`` (typed, with ``_line``): _line, reason, column.

    One pass over the table finds the rows that fail anything (or ``candidates``, a predicate
    true on at least those rows); each expectation is then evaluated on those rows only."""
    checks = [(compile_expectation(e), (e.meta or {}).get("reason", "invalid_value"), e.column)
              for e in rules]
    parts = " UNION ALL ".join(
        f'SELECT _line, {_text(reason)} AS reason, {_text(column)} AS "column" FROM failing WHERE {bad}'
        for bad, reason, column in checks
    )
    return f"WITH failing AS (SELECT * FROM {table} WHERE {candidates or failing_sql(rules)}) {parts}"


def validate_rows(frame: pl.DataFrame, suite, engine: str = "duckdb") -> pl.DataFrame:
    """Run ``suite`` on a typed frame (with ``_line``); return one row per failure: _line, reason, column.

    ``engine="duckdb"`` evaluates the rules (:func:`suite_rules`, or a GE suite's expectations) as
    compiled SQL predicates (what the ingest runs, inside the warehouse, on millions of rows);
    ``engine="great_expectations"`` runs a GE suite (:func:`build_suite`) through GE itself. Both give the
    same failures (tests/schemas/test_suites.py checks it).
    """
    if frame.height == 0:
        return FAILURE_SCHEMA.to_frame()
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("_typed", frame)
        failures = pl.DataFrame(
            pl.from_arrow(con.sql(failures_sql(getattr(suite, "expectations", suite), "_typed")).to_arrow_table()))
        con.close()
        return pl.concat([FAILURE_SCHEMA.to_frame(), failures.cast(FAILURE_SCHEMA)]).unique().sort(
            "_line", "column", "reason")
    return _validate_ge(frame, suite)


def _validate_ge(frame: pl.DataFrame, suite) -> pl.DataFrame:
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
