from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.periods import parse_period
from transforms.roster import ROSTER_SCHEMA, resolve_roster

D = Decimal
Q1 = parse_period("2026-Q1")  # 2026-01-01 .. 2026-03-31, 90 days

EMP_SCHEMA = {
    "employee_id": pl.Utf8, "full_name": pl.Utf8, "department": pl.Utf8, "role": pl.Utf8,
    "fte": pl.Decimal(38, 9), "bonus_target": pl.Decimal(18, 2), "currency": pl.Utf8,
    "effective_from": pl.Date, "manager_id": pl.Utf8, "effective_to": pl.Date,
}


def emp_row(eid: str, start: dt.date, end: dt.date | None = None, *, fte: str = "1", dept: str = "sales",
            role: str = "rep", bonus: str = "1000.00", name: str | None = None) -> dict:
    return {"employee_id": eid, "full_name": name or eid.upper(), "department": dept, "role": role,
            "fte": D(fte), "bonus_target": D(bonus), "currency": "EUR", "effective_from": start,
            "manager_id": None, "effective_to": end}


def employees(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=EMP_SCHEMA)


def one(df: pl.DataFrame, eid: str) -> dict:
    rows = df.filter(pl.col("employee_id") == eid).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_schema_and_full_period() -> None:
    out = resolve_roster(employees(emp_row("a", dt.date(2025, 1, 1))), Q1)
    assert dict(out.schema) == ROSTER_SCHEMA
    r = one(out, "a")
    assert (r["days_employed"], r["fte_days"], r["days_in_period"]) == (90, D(90), 90)
    assert r["last_employed_day"] == dt.date(2026, 3, 31)


def test_joiner_mid_period() -> None:
    r = one(resolve_roster(employees(emp_row("a", dt.date(2026, 2, 15))), Q1), "a")
    # Feb 15..Mar 31 = 14 + 31 = 45 days
    assert (r["days_employed"], r["fte_days"], r["last_employed_day"]) == (45, D(45), dt.date(2026, 3, 31))


def test_leaver_mid_period_inclusive_end() -> None:
    r = one(resolve_roster(employees(emp_row("a", dt.date(2025, 6, 1), dt.date(2026, 2, 10), fte="0.8")), Q1), "a")
    # Jan 1..Feb 10 inclusive = 41 days at 0.8
    assert (r["days_employed"], r["fte_days"], r["last_employed_day"]) == (41, D("32.8"), dt.date(2026, 2, 10))


def test_fte_change_mid_period_open_row_ends_day_before_next() -> None:
    out = resolve_roster(employees(
        emp_row("a", dt.date(2025, 1, 1), fte="1", bonus="1000.00"),
        emp_row("a", dt.date(2026, 3, 1), fte="0.5", bonus="1200.00"),
    ), Q1)
    r = one(out, "a")
    # Jan+Feb = 59 days at 1, March = 31 days at 0.5
    assert (r["days_employed"], r["fte_days"]) == (90, D("74.5"))
    assert r["bonus_target"] == D("1200.00")  # row in force on the last employed day


def test_overlapping_rows_later_effective_from_wins() -> None:
    out = resolve_roster(employees(
        emp_row("a", dt.date(2026, 1, 1), dt.date(2026, 12, 31), fte="1", dept="sales"),
        emp_row("a", dt.date(2026, 2, 1), dt.date(2026, 2, 28), fte="0.5", dept="marketing"),
    ), Q1)
    r = one(out, "a")
    # Jan 31 @1 + Feb 28 @0.5 + Mar 31 @1 (the first row resumes after the second ends)
    assert (r["days_employed"], r["fte_days"]) == (90, D(31 + 14 + 31))
    assert r["department"] == "sales"


def test_department_change_uses_last_employed_day() -> None:
    out = resolve_roster(employees(
        emp_row("a", dt.date(2025, 1, 1), dept="sales", role="rep", bonus="1000.00", name="Ann"),
        emp_row("a", dt.date(2026, 3, 20), dt.date(2026, 3, 25), dept="marketing", role="analyst",
                bonus="3000.00", name="Ann B"),
    ), Q1)
    r = one(out, "a")
    # open sales row runs to Mar 19; marketing Mar 20..25; then nothing
    assert r["last_employed_day"] == dt.date(2026, 3, 25)
    assert (r["department"], r["role"], r["bonus_target"], r["full_name"]) == ("marketing", "analyst", D("3000.00"),
                                                                               "Ann B")
    assert r["days_employed"] == 31 + 28 + 19 + 6


def test_gap_between_rows_is_not_employed() -> None:
    out = resolve_roster(employees(
        emp_row("a", dt.date(2026, 1, 1), dt.date(2026, 1, 10)),
        emp_row("a", dt.date(2026, 3, 1)),
    ), Q1)
    r = one(out, "a")
    assert (r["days_employed"], r["fte_days"]) == (10 + 31, D(41))


def test_outside_period_is_absent() -> None:
    out = resolve_roster(employees(
        emp_row("left", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        emp_row("future", dt.date(2026, 4, 1)),
        emp_row("oneday", dt.date(2026, 3, 31)),
        emp_row("empty", dt.date(2026, 2, 1), dt.date(2026, 1, 1)),  # effective_to before effective_from
    ), Q1)
    assert out["employee_id"].to_list() == ["oneday"]
    assert one(out, "oneday")["days_employed"] == 1


def test_open_row_cut_by_next_row_after_period_end() -> None:
    out = resolve_roster(employees(emp_row("a", dt.date(2026, 1, 1)), emp_row("a", dt.date(2026, 7, 1), fte="0.5")),
                         Q1)
    assert one(out, "a")["fte_days"] == D(90)


def test_optional_columns_may_be_absent_and_empty_input() -> None:
    df = employees(emp_row("a", dt.date(2026, 1, 1))).drop("effective_to", "manager_id")
    assert one(resolve_roster(df, Q1), "a")["days_employed"] == 90
    empty = resolve_roster(pl.DataFrame(schema=EMP_SCHEMA), Q1)
    assert empty.is_empty() and dict(empty.schema) == ROSTER_SCHEMA
    assert resolve_roster(df.lazy(), Q1).height == 1


# ---- property: agrees with a day-by-day reference -------------------------------------------
def reference(rows: list[dict], period) -> dict[str, tuple[int, Decimal, dt.date, str]]:
    by_emp: dict[str, list[dict]] = {}
    for r in rows:
        by_emp.setdefault(r["employee_id"], []).append(r)
    out = {}
    for eid, rs in by_emp.items():
        rs = sorted(rs, key=lambda r: r["effective_from"])
        ends = []
        for i, r in enumerate(rs):
            if r["effective_to"] is not None:
                ends.append(r["effective_to"])
            elif i + 1 < len(rs):
                ends.append(rs[i + 1]["effective_from"] - dt.timedelta(days=1))
            else:
                ends.append(dt.date.max)
        days, fte, last, dept = 0, Decimal(0), None, None
        d = period.start
        while d <= period.end:
            in_force = [r for r, e in zip(rs, ends) if r["effective_from"] <= d <= e]
            if in_force:
                r = max(in_force, key=lambda r: r["effective_from"])
                days += 1
                fte += r["fte"]
                last, dept = d, r["department"]
            d += dt.timedelta(days=1)
        if days:
            out[eid] = (days, fte, last, dept)
    return out


day_in_2026 = st.integers(min_value=-40, max_value=130).map(lambda i: dt.date(2026, 1, 1) + dt.timedelta(days=i))


@st.composite
def roster_rows(draw) -> list[dict]:
    rows = []
    for eid in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)):
        starts = draw(st.lists(day_in_2026, min_size=1, max_size=4, unique=True))
        for s in starts:
            end = draw(st.none() | day_in_2026)
            rows.append(emp_row(eid, s, end, fte=draw(st.sampled_from(["1", "0.5", "0.25", "0.8"])),
                                dept=draw(st.sampled_from(["sales", "hr", "finance"]))))
    return rows


@settings(max_examples=150, deadline=None)
@given(roster_rows(), st.sampled_from(["2026-Q1", "2026-02", "2026-03", "2025-12"]))
def test_matches_day_by_day_reference(rows: list[dict], label: str) -> None:
    period = parse_period(label)
    got = {r["employee_id"]: (r["days_employed"], r["fte_days"], r["last_employed_day"], r["department"])
           for r in resolve_roster(employees(*rows), period).to_dicts()}
    assert got == reference(rows, period)
    for days, fte, last, _ in got.values():
        assert 1 <= days <= period.days and 0 < fte <= days and period.contains(last)
