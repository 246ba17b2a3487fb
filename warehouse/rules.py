"""The contracts' row rules as SQL: each rule (:class:`schemas.suites.Rule`, or a GE expectation) compiled
to a predicate true on the rows it rejects, run inside DuckDB by the ingest (:mod:`warehouse.load`).

The rules themselves are declared in :mod:`schemas.suites` (derived from the contract); this module only
compiles them. A test checks that these predicates and Great Expectations reject exactly the same rows.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from schemas.suites import FAILURE_SCHEMA, validate_with_ge
from warehouse.db import connect_memory
from warehouse.sql import ident, literal


def _bound(value) -> str:
    """A between bound as SQL: a number as an exact numeric literal, ISO datetime text as TIMESTAMPTZ."""
    if isinstance(value, str):  # the suites' only text bounds are instants (GE may hand them back parsed)
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return f"CAST({literal(value.isoformat())} AS TIMESTAMPTZ)"
    return repr(value)


def _condition(row_condition) -> str:
    """The only row_condition form the suites use: ``column in ['a', 'b']`` (GE may wrap it in a dict)."""
    import ast
    import re

    if isinstance(row_condition, dict):
        row_condition = row_condition.get("pass_through_filter", "")
    m = re.fullmatch(r"\s*(\w+) in (\[.*\])\s*", row_condition)
    if not m:
        raise ValueError(f"unsupported row_condition {row_condition!r}")
    values = ", ".join(literal(str(v)) for v in ast.literal_eval(m.group(2)))
    return f"{ident(m.group(1))} IN ({values})"


def compile_expectation(exp) -> str:
    """A rule (or a GE expectation) as a SQL predicate that is true on the rows it rejects.

    GE's semantics: map expectations ignore nulls (only ``not_be_null`` rejects them), and a
    ``row_condition`` restricts the rows the expectation applies to.
    """
    kw = exp.configuration.kwargs if hasattr(exp, "configuration") else exp.kwargs
    col = ident(kw["column"])
    kind = exp.expectation_type
    if kind == "expect_column_values_to_not_be_null":
        bad = f"{col} IS NULL"
    elif kind == "expect_column_values_to_be_in_set":
        values = ", ".join(literal(str(v)) for v in kw["value_set"])
        bad = f"{col} IS NOT NULL AND {col} NOT IN ({values})" if values else f"{col} IS NOT NULL"
    elif kind == "expect_column_values_to_match_regex":
        bad = f"{col} IS NOT NULL AND NOT regexp_matches({col}, {literal(kw['regex'])})"
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
        f'SELECT _line, {literal(reason)} AS reason, {literal(column)} AS "column" FROM failing WHERE {bad}'
        for bad, reason, column in checks
    )
    return f"WITH failing AS (SELECT * FROM {table} WHERE {candidates or failing_sql(rules)}) {parts}"


def validate_rows(frame: pl.DataFrame, suite, engine: str = "duckdb") -> pl.DataFrame:
    """Run ``suite`` on a typed frame (with ``_line``); return one row per failure: _line, reason, column.

    ``engine="duckdb"`` evaluates the rules (:func:`schemas.suites.suite_rules`, or a GE suite's expectations) as
    compiled SQL predicates (what the ingest runs, inside the warehouse, on millions of rows);
    ``engine="great_expectations"`` runs a GE suite (:func:`schemas.suites.build_suite`) through GE itself. Both give the
    same failures (tests/schemas/test_suites.py checks it).
    """
    if frame.height == 0:
        return FAILURE_SCHEMA.to_frame()
    if engine == "duckdb":
        con = connect_memory()
        con.execute("SET TimeZone = 'UTC'")
        con.register("_typed", frame)
        failures = pl.DataFrame(
            pl.from_arrow(con.sql(failures_sql(getattr(suite, "expectations", suite), "_typed")).to_arrow_table()))
        con.close()
        return pl.concat([FAILURE_SCHEMA.to_frame(), failures.cast(FAILURE_SCHEMA)]).unique().sort(
            "_line", "column", "reason")
    return validate_with_ge(frame, suite)
