"""What `orbit explain` shows, read from the warehouse (bonus arithmetic is private to it, never in the
snapshot): the statement model of one employee and period (:mod:`warehouse.statements`).
:mod:`orbit.explain` presents it.
"""

from __future__ import annotations

import duckdb

from schemas.plan import Plan, PlanSet
from transforms.periods import check_period_kind, parse_period
from transforms.statements import Statement
from warehouse.statements import StatementsError, evaluated_count, evaluated_periods, load_statements


class NothingToExplain(LookupError):
    pass


def not_evaluated_hint(period: str, evaluated: list[str]) -> str:
    """What to do about a period with no results, given the ``evaluated`` ones: never a command that would be
    refused (a month on a quarterly plan points at its quarter)."""
    if not evaluated:
        return "nothing has been evaluated yet; run `orbit run`"
    kind = parse_period(evaluated[0]).kind
    try:
        check_period_kind(period, kind)
    except ValueError as e:
        return str(e)
    span = evaluated[0] if len(evaluated) == 1 else f"{evaluated[0]} to {evaluated[-1]}"
    return (f"period {period} has not been evaluated (evaluated: {span}); `orbit evaluate --period {period}` "
            "evaluates it if it holds data")


def gather_explanation(con: duckdb.DuckDBPyConnection, employee: str, period: str,
                       plans: PlanSet) -> tuple[Plan, Statement]:
    """The statement model of one employee and period (and the plan in force for it)."""
    if not evaluated_count(con, period):
        raise NothingToExplain(f"nothing to explain for {employee} in {period}: "
                               f"{not_evaluated_hint(period, evaluated_periods(con))}")
    try:
        plan, (statement,) = load_statements(con, plans, period, employees=[employee], draft=False)
    except StatementsError as e:
        if "no result for" in str(e):
            raise NothingToExplain(f"nothing to explain for {employee} in {period}: {employee} was not employed "
                                   f"in {period}") from None
        raise
    return plan, statement
