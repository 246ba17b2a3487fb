"""Bad input end to end: the real ingest flow around the warehouse load.

Row-level problems and unreadable files are decided by the landing readers and
:func:`warehouse.load.load_file`, and tested there, one millisecond-scale test per class of bad
input (``tests/warehouse/test_load_bad_input.py``). These tests run
:func:`flows.ingest.ingest_flow` (Prefect test harness, one per session) for what the flow adds
and a few whole paths: a rejected file is ledgered as ``rejected`` with a message naming the
file (and the line, where there is one) and the problem, and moved to
``quarantine/files/<dataset>/`` beside a ``.reason`` file; a file in a folder that is not a
dataset; the same content under another name; a rejected file delivered again. After every
run, every ledger row must reconcile: rows_read = rows_loaded + rows_quarantined + rows_duplicate.
"""

from __future__ import annotations

import datetime as dt
import os

import duckdb

HEADER = {
    "employees": "employee_id,full_name,department,role,fte,bonus_target,currency,effective_from",
    "opportunities": "opportunity_id,customer_id,created_at,stage,amount,currency,owner_employee_id,source,closed_at",
    "activities": "event_id,occurred_at,employee_id,department,activity_type",
    "feedback": "survey_id,customer_id,responded_at,score",
}
ACTIVITY = "{id},2026-01-05T10:00:00,E1,sales,meeting_held"
EMPLOYEE = "{id},Ana Ruiz,sales,seller,{fte},{bonus},{ccy},{frm}"

_MTIME = [1_700_000_000]


def csv(dataset: str, *rows: str, header: str | None = None) -> str:
    return "\n".join([header or HEADER[dataset], *rows]) + "\n"


def emp(id="E1", fte="1", bonus="1000.00", ccy="EUR", frm="2026-01-01") -> str:
    return EMPLOYEE.format(id=id, fte=fte, bonus=bonus, ccy=ccy, frm=frm)


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
    return path


def q(home, sql: str, params=None) -> list[dict]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        cur = con.execute(sql, params or [])
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


def ingest(home, plans):
    """Run the real flow, then check that every ledger row reconciles."""
    from flows.ingest import ingest_flow

    entries = ingest_flow(home, plans)
    log = ledger(home)
    for row in log:
        assert row["rows_read"] == row["rows_loaded"] + row["rows_quarantined"] + row["rows_duplicate"], row
        n_q = q(home, "SELECT count(*) AS n FROM quarantine WHERE file = ? AND sha256 = ?", [row["file"], row["sha256"]])
        assert n_q[0]["n"] == row["rows_quarantined"], row
    for e in entries:
        assert e.rows_read == e.rows_loaded + e.rows_quarantined + e.rows_duplicate, e
    # no replacement character is ever stored
    for table in ("quarantine", "activities", "employees", "opportunities", "feedback", "ingestion_log"):
        bad = q(home, f"SELECT count(*) AS n FROM {table} t WHERE contains(CAST(t AS VARCHAR), '\ufffd')")
        assert bad[0]["n"] == 0, table
    return entries


def entry_for(entries, file: str):
    [e] = [e for e in entries if e.file == file]
    return e


def ids(home, table: str, key: str) -> list[str]:
    return [r[key] for r in q(home, f"SELECT {key} FROM {table} ORDER BY {key}")]


def assert_rejected(home, entries, folder: str, name: str, *problem: str, line: int | None = None) -> str:
    e = entry_for(entries, f"{folder}/{name}")
    assert e.status == "rejected"
    assert (e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_duplicate) == (0, 0, 0, 0)
    [row] = [r for r in ledger(home) if r["file"] == f"{folder}/{name}"]
    assert row["status"] == "rejected" and row["message"] == e.message
    message = row["message"]
    assert f"{folder}/{name}" in message, message
    if line is not None:
        assert f"{name}:{line}: " in message, message
    for p in problem:
        assert p in message, message
    assert not (home.landing / folder / name).exists(), "a rejected file leaves landing/"
    moved = home.quarantine / "files" / folder / name
    assert moved.exists(), f"moved to {moved}"
    reason = moved.with_name(name + ".reason").read_text(encoding="utf-8")
    for p in problem:
        assert p in reason
    assert f"quarantine/files/{folder}/{name}" in message
    return message


# --------------------------------------------------------------------------- row-level problems
def test_duplicate_keys_within_one_file(prefect_harness, home, default_plans):
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
    entries = ingest(home, default_plans)
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


def test_csv_with_unbalanced_quote_is_rejected_naming_the_line(prefect_harness, home, default_plans):
    land(home, "activities", "a.csv",
         csv("activities", ACTIVITY.format(id="A1")) + 'A2,2026-01-05T10:00:00,E1,sales,"meeting_held\n')
    entries = ingest(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "unreadable CSV", "unterminated quote", line=3)
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]


def test_csv_truncated_last_line_is_rejected_never_padded(prefect_harness, home, default_plans):
    """A half-written file (last line cut short) must never load as if complete: the whole file is
    rejected naming the line, and loads once delivered complete."""
    header = HEADER["activities"] + ",customer_id,opportunity_id,quantity,value"
    full = "A1,2026-01-05T10:00:00,E1,sales,meeting_held,C1,O1,2,5"
    land(home, "activities", "a.csv", csv("activities", full, "A2,2026-01-05T10:00:00,E1,sales,meeting_held,C1",
                                          header=header).rstrip("\n"))
    entries = ingest(home, default_plans)
    assert_rejected(home, entries, "activities", "a.csv", "6 field(s), the header has 9", "truncated", line=3)
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]
    land(home, "activities", "a.csv", csv("activities", full, full.replace("A1", "A2"), header=header))
    [e] = ingest(home, default_plans)
    assert (e.status, e.rows_read, e.rows_loaded) == ("loaded", 2, 2)


def test_file_in_a_folder_that_is_not_a_dataset_is_rejected(prefect_harness, home, default_plans):
    land(home, "payroll", "p.csv", csv("activities", ACTIVITY.format(id="A1")))
    entries = ingest(home, default_plans)
    message = assert_rejected(home, entries, "payroll", "p.csv", "'payroll' is not a dataset", "activities")
    assert entry_for(entries, "payroll/p.csv").dataset is None
    assert "employees" in message
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 0}]


def test_same_content_under_another_name_is_a_duplicate_file(prefect_harness, home, default_plans):
    content = csv("activities", ACTIVITY.format(id="A1"), ACTIVITY.format(id="A2"), "A3,2026-01-05,E1,legal,x")
    land(home, "activities", "a.csv", content)
    ingest(home, default_plans)
    land(home, "activities", "copy.csv", content)
    entries = ingest(home, default_plans)
    [e] = entries
    assert (e.file, e.status, e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_duplicate) == (
        "activities/copy.csv", "duplicate_file", 0, 0, 0, 0)
    assert "activities/a.csv" in e.message
    assert q(home, "SELECT count(*) AS n FROM activities") == [{"n": 2}]
    assert q(home, "SELECT count(*) AS n FROM quarantine") == [{"n": 1}]
    assert q(home, "SELECT count(*) AS n FROM activities_history") == [{"n": 0}]
    # and nothing happens the third time
    assert ingest(home, default_plans) == []
    assert len(ledger(home)) == 2


def test_rejected_file_delivered_again_is_rejected_and_logged_again(prefect_harness, home, default_plans):
    content = "event_id,occurred_at\nA1,2026-01-05T10:00:00\n"  # missing required columns
    land(home, "activities", "a.csv", content)
    ingest(home, default_plans)
    land(home, "activities", "a.csv", content)
    [e] = ingest(home, default_plans)
    assert (e.file, e.status) == ("activities/a.csv", "rejected")
    assert "missing required column(s)" in e.message
    assert not (home.landing / "activities" / "a.csv").exists()
    log = ledger(home)
    assert [r["status"] for r in log] == ["rejected", "rejected"] and log[0]["sha256"] == log[1]["sha256"]
    first, second = (home.root / r["quarantined_to"] for r in log)
    assert first != second and first.exists() and second.exists()
    assert second.with_name(second.name + ".reason").exists()
    assert str(second.relative_to(home.root)) in e.message
