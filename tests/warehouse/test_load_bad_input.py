"""Every class of bad input, where it is decided: the landing readers and :func:`warehouse.load.load_file`.

Each test lands small hand-written files in a fresh ``ORBIT_HOME`` and loads them straight into the
warehouse (no Prefect, milliseconds each), with the rules the ingest flow builds from the plans.
Row-level problems must show up in the ``quarantine`` table with the right reason code; a file that
cannot be ingested at all must raise :class:`RejectedFile` with a message naming the file (and the
line, where there is one) and the problem, and write nothing. After every load, every ledger row
must reconcile: rows_read = rows_loaded + rows_quarantined + rows_duplicate.

What the flow adds around a file — ledgering a rejected file and moving it to ``quarantine/files/``,
files in a folder that is not a dataset, the same content under another name — is tested end to end
in ``tests/flows/test_ingest_bad_input.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest

from schemas.contracts import DATASETS
from schemas.suites import suite_rules
from warehouse.db import open_warehouse
from warehouse.landing import RejectedFile, list_landed, sha256_of
from warehouse.load import LedgerEntry, load_file

HEADER = {
    "employees": "employee_id,full_name,department,role,fte,bonus_target,currency,effective_from",
    "opportunities": "opportunity_id,customer_id,created_at,stage,amount,currency,owner_employee_id,source,closed_at",
    "activities": "event_id,occurred_at,employee_id,department,activity_type",
    "feedback": "survey_id,customer_id,responded_at,score",
}
ACTIVITY = "{id},2026-01-05T10:00:00,E1,sales,meeting_held"
EMPLOYEE = "{id},Ana Ruiz,sales,seller,{fte},{bonus},{ccy},{frm}"
OPPORTUNITY = "{id},C1,2026-01-05T10:00:00,{stage},{amount},{ccy},E1,{source},{closed}"

_MTIME = [1_700_000_000]
#: home root -> files landed since its last load
_PENDING: dict[Path, list[Path]] = {}
#: home root -> the test's one warehouse connection (opening one costs more than a small load)
_CONNECTIONS: dict[Path, duckdb.DuckDBPyConnection] = {}


@pytest.fixture(autouse=True)
def warehouse(home):
    with open_warehouse(home.warehouse) as con:
        _CONNECTIONS[home.root] = con
        yield con
    del _CONNECTIONS[home.root]
    _PENDING.pop(home.root, None)


def csv(dataset: str, *rows: str, header: str | None = None) -> str:
    return "\n".join([header or HEADER[dataset], *rows]) + "\n"


def emp(id="E1", fte="1", bonus="1000.00", ccy="EUR", frm="2026-01-01") -> str:
    return EMPLOYEE.format(id=id, fte=fte, bonus=bonus, ccy=ccy, frm=frm)


def opp(id="O1", stage="won", amount="1000.00", ccy="EUR", source="marketing", closed="2026-02-01T10:00:00") -> str:
    return OPPORTUNITY.format(id=id, stage=stage, amount=amount, ccy=ccy, source=source, closed=closed)


def land(home, folder: str, name: str, content: str | bytes):
    """Write a delivered file; each later call gets a later mtime (ledger order is mtime, then name)."""
    path = home.landing / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    _MTIME[0] += 10
    os.utime(path, (_MTIME[0], _MTIME[0]))
    _PENDING.setdefault(home.root, []).append(path)
    return path


def q(home, sql: str, params=None) -> list[dict]:
    cur = _CONNECTIONS[home.root].execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def ledger(home) -> list[dict]:
    return q(home, "SELECT * FROM ingestion_log ORDER BY seq")


def quarantined(home, file: str | None = None) -> dict[int, dict]:
    """line -> quarantine row (dataset, file, line, reason, details, raw) of one file."""
    rows = q(home, "SELECT dataset, file, line, reason, details, raw FROM quarantine WHERE file = ? ORDER BY line", [file])
    by_line = {r["line"]: r for r in rows}
    assert len(by_line) == len(rows), f"one quarantine row per bad line: {rows}"
    return by_line


def reasons(home, file: str) -> dict[int, str]:
    return {line: r["reason"] for line, r in quarantined(home, file).items()}


def load(home, plans) -> list[LedgerEntry | RejectedFile]:
    """Load the files landed since the last call, in ledger order, with :func:`load_file` and the rules
    the ingest flow uses; a file that cannot be ingested gives its :class:`RejectedFile`. Then check
    that every ledger row reconciles."""
    pending = set(_PENDING.pop(home.root, []))
    now = dt.datetime.now(dt.timezone.utc)
    results: list[LedgerEntry | RejectedFile] = []
    con = _CONNECTIONS[home.root]
    for landed in list_landed(home.landing):
        if landed.path not in pending:
            continue
        rules = suite_rules(DATASETS[landed.dataset], departments=plans.departments,
                            currency=plans.base.currency, now=now)
        entry = LedgerEntry(landed.name, landed.dataset, sha256_of(landed.path), 0, 0, 0, 0, "loaded", None,
                            landed.mtime)
        try:
            results.append(load_file(con, entry, landed.path, rules, plans.base.timezone))
        except RejectedFile as e:
            results.append(e)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]
    log = ledger(home)
    for row in log:
        assert row["rows_read"] == row["rows_loaded"] + row["rows_quarantined"] + row["rows_duplicate"], row
        n_q = q(home, "SELECT count(*) AS n FROM quarantine WHERE file = ? AND sha256 = ?", [row["file"], row["sha256"]])
        assert n_q[0]["n"] == row["rows_quarantined"], row
    for e in results:
        if isinstance(e, LedgerEntry):
            assert e.rows_read == e.rows_loaded + e.rows_quarantined + e.rows_duplicate, e
    # no replacement character is ever stored
    for table in ("quarantine", "activities", "employees", "opportunities", "feedback", "ingestion_log"):
        bad = q(home, f"SELECT count(*) AS n FROM {table} t WHERE contains(CAST(t AS VARCHAR), '\ufffd')")
        assert bad[0]["n"] == 0, table
    return results


def _name(e: LedgerEntry | RejectedFile) -> str:
    return e.file if isinstance(e, LedgerEntry) else f"{e.path.parent.name}/{e.path.name}"


def entry_for(entries, file: str):
    [e] = [e for e in entries if _name(e) == file]
    return e


def ids(home, table: str, key: str) -> list[str]:
    return [r[key] for r in q(home, f"SELECT {key} FROM {table} ORDER BY {key}")]


def assert_rejected(home, entries, folder: str, name: str, *problem: str, line: int | None = None) -> str:
    """The file was refused with a message naming it (and the line) and the problem, and nothing of it
    was written: no ledger row, no quarantined row (ledgering and moving it is the flow's part)."""
    e = entry_for(entries, f"{folder}/{name}")
    assert isinstance(e, RejectedFile), e
    message = str(e)
    assert f"{folder}/{name}" in message, message
    if line is not None:
        assert e.line == line and f"{name}:{line}: " in message, message
    for p in problem:
        assert p in message, message
    assert [r for r in ledger(home) if r["file"] == f"{folder}/{name}"] == []
    assert q(home, "SELECT count(*) AS n FROM quarantine WHERE file = ?", [f"{folder}/{name}"]) == [{"n": 0}]
    return message


# --------------------------------------------------------------------------- row-level problems
def test_null_key_is_quarantined(home, default_plans):
    land(home, "activities", "a.csv", csv("activities", ACTIVITY.format(id="A1"), ACTIVITY.format(id=""),
                                          ACTIVITY.format(id="  ")))
    land(home, "employees", "e.csv", csv("employees", emp(), emp(id="E2", frm="")))
    entries = load(home, default_plans)
    assert reasons(home, "activities/a.csv") == {3: "null_key", 4: "null_key"}
    assert reasons(home, "employees/e.csv") == {3: "null_key"}
    assert "employee_id" not in quarantined(home, "employees/e.csv")[3]["details"]
    assert "effective_from" in quarantined(home, "employees/e.csv")[3]["details"]
    assert ids(home, "activities", "event_id") == ["A1"]
    assert ids(home, "employees", "employee_id") == ["E1"]
    e = entry_for(entries, "activities/a.csv")
    assert (e.status, e.rows_read, e.rows_loaded, e.rows_quarantined) == ("loaded", 3, 1, 2)


def test_bad_types_are_quarantined_as_bad_type(home, default_plans):
    land(home, "employees", "e.csv", csv(
        "employees",
        emp(id="E1"),
        emp(id="E2", frm="31/02/2026"),  # unparsable date in a key column
        emp(id="E3", frm="2026-02-31"),  # ISO-looking but impossible
        emp(id="E4", fte="abc"),  # not a number
        emp(id="E5", bonus="12abc"),
        emp(id="E6", bonus="1e3"),
    ))
    land(home, "activities", "a.csv", csv(
        "activities",
        ACTIVITY.format(id="A1"),
        "A2,2026-02-31T10:00:00,E1,sales,meeting_held",
        "A3,31/02/2026 10:00,E1,sales,meeting_held",
        "A4,yesterday,E1,sales,meeting_held",
    ))
    load(home, default_plans)
    got = quarantined(home, "employees/e.csv")
    assert {k: v["reason"] for k, v in got.items()} == {3: "bad_type", 4: "bad_type", 5: "bad_type", 6: "bad_type",
                                                        7: "bad_type"}
    assert got[3]["details"] == "effective_from: bad_type"
    assert got[5]["details"] == "fte: bad_type"
    assert json.loads(got[3]["raw"])["effective_from"] == "31/02/2026"
    assert reasons(home, "activities/a.csv") == {3: "bad_type", 4: "bad_type", 5: "bad_type"}
    assert ids(home, "employees", "employee_id") == ["E1"]
    assert ids(home, "activities", "event_id") == ["A1"]


def test_values_out_of_range_are_quarantined(home, default_plans):
    land(home, "opportunities", "o.csv", csv(
        "opportunities", opp(id="O1", amount="0"), opp(id="O2", amount="-5.00"), opp(id="O3", amount="-0.01"),
    ))
    land(home, "employees", "e.csv", csv(
        "employees", emp(id="E1", fte="1"), emp(id="E2", fte="0.5"), emp(id="E3", fte="0"), emp(id="E4", fte="1.2"),
        emp(id="E5", fte="-0.5"), emp(id="E6", bonus="-1.00"), emp(id="E7", fte="1.0000001"),
    ))
    land(home, "feedback", "f.csv", csv(
        "feedback", "S1,C1,2026-01-05T10:00:00,0", "S2,C1,2026-01-05T10:00:00,10", "S3,C1,2026-01-05T10:00:00,11",
        "S4,C1,2026-01-05T10:00:00,-1", "S5,C1,2026-01-05T10:00:00,10.5",
    ))
    load(home, default_plans)
    assert reasons(home, "opportunities/o.csv") == {3: "out_of_range", 4: "out_of_range"}
    assert quarantined(home, "opportunities/o.csv")[3]["details"] == "amount: out_of_range"
    assert reasons(home, "employees/e.csv") == {4: "out_of_range", 5: "out_of_range", 6: "out_of_range",
                                                7: "out_of_range", 8: "out_of_range"}
    assert reasons(home, "feedback/f.csv") == {4: "out_of_range", 5: "out_of_range", 6: "out_of_range"}
    assert ids(home, "opportunities", "opportunity_id") == ["O1"]
    assert ids(home, "employees", "employee_id") == ["E1", "E2"]
    assert ids(home, "feedback", "survey_id") == ["S1", "S2"]


def test_unknown_department_is_quarantined(home, default_plans):
    land(home, "activities", "a.csv", csv(
        "activities", ACTIVITY.format(id="A1"), "A2,2026-01-05T10:00:00,E1,legal,meeting_held",
        "A3,2026-01-05T10:00:00,E1,Sales,meeting_held", "A4,2026-01-05T10:00:00,E1,customer service,meeting_held",
    ))
    land(home, "employees", "e.csv", csv("employees", emp(), "E2,Bo,marketing_ops,analyst,1,10.00,EUR,2026-01-01"))
    load(home, default_plans)
    assert reasons(home, "activities/a.csv") == {3: "unknown_department", 4: "unknown_department",
                                                 5: "unknown_department"}
    assert quarantined(home, "activities/a.csv")[3]["details"] == "department: unknown_department"
    assert reasons(home, "employees/e.csv") == {3: "unknown_department"}
    assert ids(home, "activities", "event_id") == ["A1"]


def test_invalid_stage_or_source_is_quarantined(home, default_plans):
    land(home, "opportunities", "o.csv", csv(
        "opportunities", opp(id="O1"), opp(id="O2", stage="pending"), opp(id="O3", source="tv"),
        opp(id="O4", stage="Won"), opp(id="O5", stage="open", closed=""),
    ))
    load(home, default_plans)
    got = quarantined(home, "opportunities/o.csv")
    assert {k: v["reason"] for k, v in got.items()} == {3: "invalid_value", 4: "invalid_value", 5: "invalid_value"}
    assert got[3]["details"] == "stage: invalid_value"
    assert got[4]["details"] == "source: invalid_value"
    assert ids(home, "opportunities", "opportunity_id") == ["O1", "O5"]


def test_closed_at_missing_for_won_or_lost(home, default_plans):
    land(home, "opportunities", "o.csv", csv(
        "opportunities", opp(id="O1", stage="won", closed=""), opp(id="O2", stage="lost", closed=""),
        opp(id="O3", stage="open", closed=""), opp(id="O4", stage="lost"),
    ))
    load(home, default_plans)
    got = quarantined(home, "opportunities/o.csv")
    assert {k: v["reason"] for k, v in got.items()} == {2: "closed_at_missing", 3: "closed_at_missing"}
    assert got[2]["details"] == "closed_at: closed_at_missing"
    assert ids(home, "opportunities", "opportunity_id") == ["O3", "O4"]


def test_timestamp_more_than_a_day_in_the_future(home, default_plans):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    soon = (now + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    far = (now + dt.timedelta(days=400)).strftime("%Y-%m-%d")
    land(home, "activities", "a.csv", csv(
        "activities", f"A1,{soon},E1,sales,meeting_held", f"A2,{later},E1,sales,meeting_held",
        f"A3,{far},E1,sales,meeting_held",
    ))
    land(home, "opportunities", "o.csv", csv("opportunities", opp(id="O1", closed=later), opp(id="O2")))
    load(home, default_plans)
    assert reasons(home, "activities/a.csv") == {3: "future_timestamp", 4: "future_timestamp"}
    assert quarantined(home, "activities/a.csv")[3]["details"] == "occurred_at: future_timestamp"
    assert reasons(home, "opportunities/o.csv") == {2: "future_timestamp"}
    assert ids(home, "activities", "event_id") == ["A1"]
    assert ids(home, "opportunities", "opportunity_id") == ["O2"]


def test_duplicate_keys_within_one_file(home, default_plans):
    a = ACTIVITY.format
    land(home, "activities", "a.csv", csv(
        "activities",
        a(id="A1"),                                  # 2
        "A1,2026-01-06T10:00:00,E1,sales,meeting_held",  # 3 same key, other values -> both quarantined
        a(id="A2"), a(id="A2"), a(id="A2"),          # 4-6 exact copies -> one loaded, two duplicates
        a(id="A3"), a(id="A3"),                      # 7-8 exact copies of a conflicting key ...
        "A3,2026-01-07T10:00:00,E1,sales,meeting_held",  # 9 ... -> all three quarantined, none duplicate
        a(id="A4"),                                  # 10
    ))
    land(home, "employees", "e.csv", csv(  # composite key (employee_id, effective_from)
        "employees", emp(id="E1"), emp(id="E1", fte="0.5"), emp(id="E1", frm="2026-03-01"),
    ))
    entries = load(home, default_plans)
    assert reasons(home, "activities/a.csv") == {
        2: "duplicate_key_conflict", 3: "duplicate_key_conflict",
        7: "duplicate_key_conflict", 8: "duplicate_key_conflict", 9: "duplicate_key_conflict",
    }
    assert "event_id" in quarantined(home, "activities/a.csv")[2]["details"]
    e = entry_for(entries, "activities/a.csv")
    assert (e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_duplicate) == (9, 2, 5, 2)
    assert ids(home, "activities", "event_id") == ["A2", "A4"]
    assert reasons(home, "employees/e.csv") == {2: "duplicate_key_conflict", 3: "duplicate_key_conflict"}
    assert q(home, "SELECT employee_id, effective_from FROM employees") == [
        {"employee_id": "E1", "effective_from": dt.date(2026, 3, 1)}]


def test_currency_mismatch_is_quarantined(home, default_plans):
    land(home, "opportunities", "o.csv", csv(
        "opportunities", opp(id="O1"), opp(id="O2", ccy="USD"), opp(id="O3", ccy="eur"), opp(id="O4", ccy="€"),
    ))
    land(home, "employees", "e.csv", csv("employees", emp(), emp(id="E2", ccy="COP")))
    load(home, default_plans)
    assert reasons(home, "opportunities/o.csv") == {3: "currency_mismatch", 4: "currency_mismatch",
                                                    5: "currency_mismatch"}
    assert reasons(home, "employees/e.csv") == {3: "currency_mismatch"}
    assert ids(home, "opportunities", "opportunity_id") == ["O1"]


def test_decimal_comma_amount_is_bad_type_never_misread(home, default_plans):
    land(home, "opportunities", "o.csv", csv(
        "opportunities", opp(id="O1", amount="1234.56"), opp(id="O2", amount='"1.234,56"'),
        opp(id="O3", amount='"1234,56"'), opp(id="O4", amount='"1,234.56"'), opp(id="O5", amount="1.234"),
    ))
    land(home, "feedback", "f.csv", csv("feedback", 'S1,C1,2026-01-05T10:00:00,"7,5"'))
    load(home, default_plans)
    got = quarantined(home, "opportunities/o.csv")
    assert {k: v["reason"] for k, v in got.items()} == {3: "bad_type", 4: "bad_type", 5: "bad_type", 6: "bad_type"}
    assert got[3]["details"] == "amount: bad_type"
    assert json.loads(got[3]["raw"])["amount"] == "1.234,56"
    assert reasons(home, "feedback/f.csv") == {2: "bad_type"}
    assert q(home, "SELECT opportunity_id, CAST(amount AS VARCHAR) AS amount FROM opportunities") == [
        {"opportunity_id": "O1", "amount": "1234.56"}]


# --------------------------------------------------------------------------- unreadable files
def test_csv_with_unbalanced_quote_is_rejected_naming_the_line(home, default_plans):
    land(home, "activities", "a.csv",
         csv("activities", ACTIVITY.format(id="A1")) + 'A2,2026-01-05T10:00:00,E1,sales,"meeting_held\n')
    entries = load(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "unreadable CSV", "unterminated quote", line=3)
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]


def test_csv_truncated_last_line_is_rejected_never_padded(home, default_plans):
    """A half-written file (last line cut short) must never load as if complete: the whole file is
    rejected naming the line, and loads once delivered complete."""
    header = HEADER["activities"] + ",customer_id,opportunity_id,quantity,value"
    full = "A1,2026-01-05T10:00:00,E1,sales,meeting_held,C1,O1,2,5"
    land(home, "activities", "a.csv", csv("activities", full, "A2,2026-01-05T10:00:00,E1,sales,meeting_held,C1",
                                          header=header).rstrip("\n"))
    entries = load(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "6 field(s), the header has 9", "truncated", line=3)
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]
    land(home, "activities", "a.csv", csv("activities", full, full.replace("A1", "A2"), header=header))
    [e] = load(home, default_plans)
    assert (e.status, e.rows_read, e.rows_loaded) == ("loaded", 2, 2)


def test_csv_truncated_inside_a_value_or_a_required_column_is_rejected(home, default_plans):
    land(home, "activities", "a.csv",
         csv("activities", ACTIVITY.format(id="A1")) + "A2,2026-01-05T10:00:00,E1")  # cut after employee_id
    land(home, "opportunities", "o.csv", csv("opportunities", opp(id="O1")) + "O2,C1,2026-01-0")  # cut mid-value
    entries = load(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "3 field(s), the header has 5", "truncated", line=3)
    assert_rejected(home, entries, "opportunities", "o.csv", "3 field(s), the header has 9", "truncated", line=3)
    assert q(home, "SELECT count(*) AS n FROM quarantine") == [{"n": 0}]


def test_csv_row_with_too_many_fields_mid_file_is_rejected_naming_the_line(home, default_plans):
    land(home, "activities", "a.csv", csv("activities", ACTIVITY.format(id="A1"),
                                          ACTIVITY.format(id="A2") + ",oops", ACTIVITY.format(id="A3")))
    entries = load(home, default_plans)
    message = assert_rejected(home, entries, "activities", "a.csv", "6 field(s), the header has 5", "delimiter",
                              line=3)
    assert "truncated" not in message


def test_csv_with_duplicate_column_names_is_rejected_naming_the_column(home, default_plans):
    header = HEADER["activities"] + ",Department"
    land(home, "activities", "a.csv", csv("activities", ACTIVITY.format(id="A1") + ",hr", header=header))
    entries = load(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "duplicate column name 'Department'", "columns 4 and 6",
                    line=1)


def test_csv_line_numbers_count_blank_lines_and_quoted_line_breaks(home, default_plans):
    header = HEADER["activities"] + ",notes"
    land(home, "activities", "a.csv", csv(
        "activities",
        ACTIVITY.format(id="A1") + ',"two\nlines"',  # lines 2-3
        "",  # line 4
        "A2,2026-01-05T10:00:00,E1,legal,meeting_held,",  # line 5
        header=header))
    [e] = load(home, default_plans)
    assert (e.rows_read, e.rows_loaded, e.rows_quarantined) == (2, 1, 1)
    assert reasons(home, "activities/a.csv") == {5: "unknown_department"}
    assert q(home, "SELECT _line FROM activities") == [{"_line": 2}]


def test_parquet_with_broken_footer_is_rejected(home, default_plans, tmp_path):
    good = tmp_path / "good.parquet"
    pl.DataFrame({c: [v] for c, v in zip(HEADER["activities"].split(","), ACTIVITY.format(id="A1").split(","))}
                 ).write_parquet(good)
    data = good.read_bytes()
    land(home, "activities", "ok.parquet", data)
    land(home, "activities", "broken.parquet", data[:-7])
    entries = load(home, default_plans)
    assert entry_for(entries, "activities/ok.parquet").rows_loaded == 1
    assert_rejected(home, entries, "activities", "broken.parquet", "unreadable Parquet")


def test_malformed_json_line_is_rejected_naming_the_line(home, default_plans):
    good = json.dumps(dict(zip(HEADER["activities"].split(","), ACTIVITY.format(id="A1").split(","))))
    land(home, "activities", "a.jsonl", good + "\n" + '{"event_id": "A2", "occurred_at": \n' + good + "\n")
    land(home, "activities", "b.jsonl", good.replace("A1", "B1") + "\n[1, 2]\n")
    entries = load(home, default_plans)
    assert_rejected(home, entries, "activities", "a.jsonl", "malformed JSON line", line=2)
    assert_rejected(home, entries, "activities", "b.jsonl", "malformed JSON line", "JSON object", line=2)
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]


def test_missing_required_column_rejects_the_file(home, default_plans):
    land(home, "activities", "a.csv", "event_id,occurred_at,employee_id,department\nA1,2026-01-05T10:00:00,E1,sales\n")
    entries = load(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "missing required column(s) activity_type", line=1)
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]


def test_renamed_column_is_reported_as_missing_naming_the_unknown_one(home, default_plans):
    header = HEADER["activities"].replace("occurred_at", "occured_at")
    land(home, "activities", "a.csv", csv("activities", ACTIVITY.format(id="A1"), header=header))
    entries = load(home, default_plans)
    message = assert_rejected(home, entries, "activities", "a.csv", "missing required column(s) occurred_at",
                              "occured_at", line=1)
    assert "renamed" in message


def test_empty_file_is_rejected(home, default_plans):
    land(home, "activities", "empty.csv", b"")
    land(home, "feedback", "blank.csv", b"\n  \n")
    land(home, "activities", "empty.jsonl", b" \n")  # distinct bytes: equal content would be a duplicate_file
    entries = load(home, default_plans)
    for folder, name in (("activities", "empty.csv"), ("feedback", "blank.csv"), ("activities", "empty.jsonl")):
        assert_rejected(home, entries, folder, name, "the file is empty")


# --------------------------------------------------------------------------- encodings
def test_utf8_with_bom_loads_fine(home, default_plans):
    text = csv("employees", "E1,José Muñoz,sales,seller,1,1000.00,EUR,2026-01-01")
    land(home, "employees", "e.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    entries = load(home, default_plans)
    e = entry_for(entries, "employees/e.csv")
    assert (e.status, e.rows_read, e.rows_loaded, e.message) == ("loaded", 1, 1, None)
    assert q(home, "SELECT employee_id, full_name, extra FROM employees") == [
        {"employee_id": "E1", "full_name": "José Muñoz", "extra": None}]


@pytest.mark.parametrize("encoding,name", [("latin-1", "José Muñoz"), ("cp1252", "Zoë “Z” O’Neil €")])
def test_latin1_or_cp1252_file_is_rejected_naming_the_line(home, default_plans, encoding, name):
    text = csv("employees", emp(id="E1"), f"E2,{name},sales,seller,1,1000.00,EUR,2026-01-01", emp(id="E3"))
    land(home, "employees", "e.csv", text.encode(encoding))
    entries = load(home, default_plans)
    assert_rejected(home, entries, "employees", "e.csv", "not valid UTF-8", "re-export", line=3)
    assert q(home, "SELECT count(*) AS n FROM employees") == [{"n": 0}]
    assert q(home, "SELECT count(*) AS n FROM quarantine") == [{"n": 0}]


# --------------------------------------------------------------------------- re-delivery, extra columns, JSON Lines
def test_same_name_redelivered_with_new_content_is_a_new_version(home, default_plans):
    land(home, "activities", "a.csv", csv("activities", ACTIVITY.format(id="A1"), ACTIVITY.format(id="A2")))
    load(home, default_plans)
    land(home, "activities", "a.csv", csv("activities", "A1,2026-01-05T10:00:00,E1,sales,customer_call",
                                          ACTIVITY.format(id="A2")))
    [e] = load(home, default_plans)
    assert (e.file, e.status, e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_duplicate) == (
        "activities/a.csv", "loaded", 2, 1, 0, 1)
    log = ledger(home)
    assert [r["file"] for r in log] == ["activities/a.csv"] * 2 and log[0]["sha256"] != log[1]["sha256"]
    assert q(home, "SELECT event_id, activity_type, _sha256 FROM activities ORDER BY event_id") == [
        {"event_id": "A1", "activity_type": "customer_call", "_sha256": log[1]["sha256"]},
        {"event_id": "A2", "activity_type": "meeting_held", "_sha256": log[0]["sha256"]},
    ]
    assert q(home, "SELECT event_id, activity_type, _sha256, _superseded_by FROM activities_history") == [
        {"event_id": "A1", "activity_type": "meeting_held", "_sha256": log[0]["sha256"],
         "_superseded_by": "activities/a.csv"}]


def test_redelivery_with_one_identical_and_one_changed_row(home, default_plans):
    land(home, "opportunities", "o1.csv", csv("opportunities", opp(id="O1", stage="open", closed=""), opp(id="O2")))
    load(home, default_plans)
    land(home, "opportunities", "o2.csv", csv("opportunities", opp(id="O1", stage="won"), opp(id="O2")))
    [e] = load(home, default_plans)
    assert (e.file, e.status, e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_duplicate) == (
        "opportunities/o2.csv", "loaded", 2, 1, 0, 1)
    assert q(home, "SELECT opportunity_id, stage, _file FROM opportunities ORDER BY 1") == [
        {"opportunity_id": "O1", "stage": "won", "_file": "opportunities/o2.csv"},
        {"opportunity_id": "O2", "stage": "won", "_file": "opportunities/o1.csv"},
    ]
    assert q(home, "SELECT opportunity_id, stage, _file, _superseded_by FROM opportunities_history") == [
        {"opportunity_id": "O1", "stage": "open", "_file": "opportunities/o1.csv",
         "_superseded_by": "opportunities/o2.csv"}]


def test_extra_unknown_columns_are_kept_and_reported(home, default_plans):
    header = HEADER["activities"] + ",shift,notes"
    land(home, "activities", "a.csv", csv("activities", ACTIVITY.format(id="A1") + ",night,called back",
                                          ACTIVITY.format(id="A2") + ",,", header=header))
    [e] = load(home, default_plans)
    assert (e.status, e.rows_read, e.rows_loaded) == ("loaded", 2, 2)
    [row] = ledger(home)
    assert "extra" in row["message"] and "shift" in row["message"] and "notes" in row["message"]
    extra = {r["event_id"]: json.loads(r["extra"]) for r in q(home, "SELECT event_id, CAST(extra AS VARCHAR) AS extra "
                                                                     "FROM activities")}
    assert extra["A1"] == {"shift": "night", "notes": "called back"}
    assert set(extra["A2"]) == {"shift", "notes"}  # the columns are kept even when empty on that row


def test_jsonl_line_numbers_count_blank_lines(home, default_plans):
    good = json.dumps(dict(zip(HEADER["activities"].split(","), ACTIVITY.format(id="A1").split(","))))
    bad = good.replace("A1", "A2").replace("sales", "legal")
    land(home, "activities", "a.jsonl", good + "\n\n" + bad + "\n")  # the bad record is on line 3
    [e] = load(home, default_plans)
    assert (e.rows_read, e.rows_loaded, e.rows_quarantined) == (2, 1, 1)
    assert reasons(home, "activities/a.jsonl") == {3: "unknown_department"}


@pytest.mark.parametrize("lines", [
    ['{"event_id": "A1", "tags": ["x"]}'],  # an array value: json.dumps gets a polars Series
    ['{"event_id": "A1", "meta": {"k": 1}}', '{"event_id": "A2", "meta": 2}'],  # object, then a number
], ids=["array-value", "object-then-scalar"])
def test_jsonl_with_nested_values_does_not_crash_the_ingest(home, default_plans, lines):
    base = dict(zip(HEADER["activities"].split(","), ACTIVITY.format(id="A1").split(",")))
    body = "".join(json.dumps({**base, **json.loads(line)}) + "\n" for line in lines)
    land(home, "activities", "nested.jsonl", body)
    land(home, "activities", "later.csv", csv("activities", ACTIVITY.format(id="B1")))
    entries = load(home, default_plans)
    nested = entry_for(entries, "activities/nested.jsonl")
    assert isinstance(nested, RejectedFile) or nested.status == "loaded"
    assert entry_for(entries, "activities/later.csv").rows_loaded == 1


def test_jsonl_numbers_are_never_silently_rounded(home, default_plans):
    row = '{{"measurement_id": "{id}", "measured_at": "2026-01-05T10:00:00Z", "department": "sales", ' \
          '"metric": "m", "value": {value}}}\n'
    land(home, "measurements", "m.jsonl", row.format(id="M1", value="1234567890.123456789")
         + row.format(id="M2", value="0.5") + row.format(id="M3", value="0.30000000000000004"))
    land(home, "opportunities", "o.jsonl", "".join(
        json.dumps(dict(zip(HEADER["opportunities"].split(","), opp(id=i, amount="").split(","))))
        .replace('"amount": ""', f'"amount": {amount}') + "\n"
        for i, amount in (("O1", "1234567890123456.78"), ("O2", "0.1"), ("O3", "12345678901234567.89"))))
    [m, o] = load(home, default_plans)
    assert (m.rows_read, m.rows_loaded, m.rows_quarantined) == (3, 2, 1)
    got = {r["measurement_id"]: r["value"] for r in
           q(home, "SELECT measurement_id, CAST(value AS VARCHAR) AS value FROM measurements")}
    assert got == {"M1": "1234567890.123456789", "M2": "0.500000000"}
    assert reasons(home, "measurements/m.jsonl") == {3: "bad_type"}  # more places than kept: never rounded
    assert q(home, "SELECT opportunity_id, CAST(amount AS VARCHAR) AS amount FROM opportunities ORDER BY 1") == [
        {"opportunity_id": "O1", "amount": "1234567890123456.78"}, {"opportunity_id": "O2", "amount": "0.10"}]
    assert reasons(home, "opportunities/o.jsonl") == {3: "bad_type"}  # too large for DECIMAL(18,2)
