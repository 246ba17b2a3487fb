"""Source files mapped and loaded by the warehouse (no Prefect): realistic exports of each kind, the ledger's
reconciliation, quarantine naming the original file and line, refused mappings, names as ids, presets, dry runs."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.contracts import DATASETS
from schemas.sources import load_mapping, parse_mapping, presets
from schemas.suites import suite_rules
from warehouse.db import open_warehouse
from warehouse.landing import RejectedFile
from warehouse.load import LedgerEntry
from warehouse.sources import MappingRefused, dry_run, load_source_file

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "sources"
NOW = dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc)
DEPARTMENTS = ["sales", "marketing", "customer_service", "logistics", "dispatch", "finance", "hr", "facilities",
               "technology"]
UTC = dt.timezone.utc


def _rules(dataset: str):
    return suite_rules(DATASETS[dataset], departments=DEPARTMENTS, currency="EUR", now=NOW)


def _mapping(tmp_path: Path, text: str, name: str = "crm"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


def _load(con, source, path: Path, name: str | None = None, sha: str = "sha") -> list[LedgerEntry]:
    entry = LedgerEntry(name or f"{source.name}/{path.name}", None, sha, 0, 0, 0, 0, "rejected", None, None)
    return load_source_file(con, entry, path, source, _rules, "America/Bogota")


def _reconciles(entries: list[LedgerEntry]) -> None:
    for e in entries:
        assert e.rows_read == e.rows_loaded + e.rows_quarantined + e.rows_duplicate + e.rows_skipped, e


@pytest.fixture()
def con(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as c:
        yield c


CRM = """\
read:
  delimiter: ";"
  decimal_comma: true
  date_formats: ["%m/%d/%Y", "%m/%d/%y"]
  timezone: America/New_York
feeds:
  - dataset: opportunities
    columns:
      opportunity_id: opportunity_id
      customer_id: account
      owner_employee_id: Sales Agent
      stage: {from: deal_stage, map: {Won: won, Lost: lost, Engaging: open, Prospecting: open}}
      created_at: {from: [engage_date, close_date]}
      closed_at: {from: close_date, when: {equals: {deal_stage: [Won, Lost]}}}
      amount: {from: close_value, default: 0}
      currency: {value: EUR}
      source: {value: inbound}
"""
# A CRM export as a European spreadsheet saves it: ';' between fields, decimal commas, US dates, names as ids.
CRM_CSV = """\
opportunity_id;SALES AGENT ;product;account;deal_stage;engage_date;close_date;close_value
1C1I7A6R;Moses Frase;GTX Plus Basic;Cancity;Won;10/20/2025;3/1/2026;1.054,50
Z063OYW0; Darcel Schlecht ;GTXPro;Isdom;Lost;10/25/2025;3/11/26;4514
EC4QE1BX;Darcel Schlecht;MG Special;Cancity;Engaging;10/25/2025;;
X1;José Núñez;GTX;Q;Negotiation;10/25/2025;;12,5
Y1;José Núñez;GTX;Q;Won;13/25/2025;3/2/2026;7
Z1;José Núñez;GTX;Q;Won;11/02/2025;3/3/2026;1,5
"""


def test_us_dates_decimal_commas_and_names_as_ids(tmp_path, con):
    src = _mapping(tmp_path, CRM)
    path = tmp_path / "export.csv"
    path.write_text(CRM_CSV, encoding="utf-8")
    (entry,) = _load(con, src, path)
    _reconciles([entry])
    assert (entry.rows_read, entry.rows_loaded, entry.rows_quarantined, entry.rows_skipped) == (6, 4, 2, 0)
    assert entry.dataset == "opportunities" and entry.mapping_sha256 == src.sha256
    assert "extra columns kept in `extra`: product" in entry.message
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT opportunity_id, owner_employee_id, stage, amount, created_at, closed_at, extra->>'product', _line "
        "FROM opportunities").fetchall()}
    # 1.054,50 with decimal commas; 3/1/2026 is March 1st, midnight in New York (UTC-5)
    assert rows["1C1I7A6R"] == ("Moses Frase", "won", Decimal("1054.50"), dt.datetime(2025, 10, 20, 4, tzinfo=UTC),
                                dt.datetime(2026, 3, 1, 5, tzinfo=UTC), "GTX Plus Basic", 2)
    assert rows["Z063OYW0"][0] == "Darcel Schlecht"  # names are ids, compared after trimming
    assert rows["Z063OYW0"][4] == dt.datetime(2026, 3, 11, 4, tzinfo=UTC)  # two-digit year; DST began Mar 8
    assert rows["EC4QE1BX"][1:] == ("open", Decimal("0"), dt.datetime(2025, 10, 25, 4, tzinfo=UTC), None,
                                    "MG Special", 4)
    assert rows["Z1"][2] == Decimal("1.5")
    quarantined = con.execute("SELECT file, line, reason, details, raw->>'stage' FROM quarantine ORDER BY line"
                              ).fetchall()
    assert quarantined == [
        ("crm/export.csv", 5, "unmapped_value", "stage ('Negotiation' is not in its map): unmapped_value",
         "Negotiation"),
        ("crm/export.csv", 6, "bad_type", "created_at: bad_type", "won"),  # 13/25/2025 is no date
    ]


def test_a_cp1252_export_reads_its_accents(tmp_path, con):
    src = _mapping(tmp_path, CRM.replace('delimiter: ";"', 'delimiter: ";"\n  encoding: cp1252'))
    path = tmp_path / "export.csv"
    path.write_bytes(CRM_CSV.replace("Cancity", "Cañada – Café").encode("cp1252"))
    (entry,) = _load(con, src, path)
    assert entry.rows_loaded == 4
    assert con.execute("SELECT DISTINCT customer_id FROM opportunities WHERE opportunity_id = '1C1I7A6R'"
                       ).fetchall() == [("Cañada – Café",)]
    assert con.execute("SELECT owner_employee_id FROM opportunities WHERE opportunity_id = 'Z1'").fetchall() == \
        [("José Núñez",)]
    # the same bytes read as UTF-8 are refused with the line of the first byte that is not UTF-8
    utf8 = _mapping(tmp_path, CRM, "crm2")
    with pytest.raises(RejectedFile, match=r"export\.csv:2: not valid UTF-8"):
        _load(con, utf8, path)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(CRM_CSV.encode("cp1252").replace(b"Isdom", b"Is\x81dom"))  # 0x81 is no cp1252 character
    with pytest.raises(RejectedFile, match=r"bad\.csv:3: not valid cp1252 \(byte 0x81\)"):
        _load(con, src, bad)


CALLS = """\
read:
  sheet: Calls
  skip_rows: 2
  date_formats: ["%d/%m/%Y"]
  timezone: Europe/Madrid
feeds:
  - dataset: activities
    when: {equals: {Answered: "yes"}}
    columns:
      event_id: Call ID
      occurred_at: {from: Date, time: Time}
      employee_id: Agent
      department: {value: customer_service}
      activity_type: {value: customer_call}
      customer_id: Customer
      value: Duration (min)
  - dataset: feedback
    when: {not_blank: [Rating], equals: {Answered: "yes"}}
    columns:
      survey_id: Call ID
      customer_id: Customer
      responded_at: {from: Date, time: Time}
      score: Rating
      employee_id: Agent
      department: {value: customer_service}
"""


def _calls_workbook(path: Path) -> None:
    """A call centre's workbook: a title above the header, dates stored as text, times as Excel time values,
    numbers stored as text, ratings on some answered calls."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Summary").write(0, 0, "see Calls")
    ws = wb.add_worksheet("Calls")
    time_fmt = wb.add_format({"num_format": "hh:mm"})
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write(0, 0, "Call log — week 27")
    ws.write_row(2, 0, ["Call ID", "Date", "Time", "Agent", "Customer", "Answered", "Rating", "Duration (min)"])
    rows = [
        ("0001", "01/07/2026", 9.5 / 24, "Marta Ruiz", "Cancity", "yes", 9, "4.5"),
        ("0002", "01/07/2026", 14.25 / 24, "Marta Ruiz", "Isdom", "no", None, None),
        ("0003", dt.datetime(2026, 7, 2), 16 / 24, " Piet de Vries ", "Konex", "yes", None, "12"),
        ("0004", "31/06/2026", 10 / 24, "Piet de Vries", "Acme", "yes", 7, "3"),
        ("0005", "03/07/2026", 11 / 24, "Piet de Vries", "Acme", "yes", 11, "3"),
    ]
    for r, (cid, day, t, agent, customer, answered, rating, minutes) in enumerate(rows, start=3):
        ws.write_string(r, 0, cid)
        if isinstance(day, dt.datetime):
            ws.write_datetime(r, 1, day, date_fmt)
        else:
            ws.write_string(r, 1, day)
        ws.write_number(r, 2, t, time_fmt)
        ws.write_string(r, 3, agent)
        ws.write_string(r, 4, customer)
        ws.write_string(r, 5, answered)
        if rating is not None:
            ws.write_number(r, 6, rating)
        if minutes is not None:
            ws.write_string(r, 7, minutes)
    wb.close()


def test_a_workbook_with_text_dates_and_time_values_feeds_two_datasets(tmp_path, con):
    src = _mapping(tmp_path, CALLS, "calls")
    path = tmp_path / "calls.xlsx"
    _calls_workbook(path)
    activities, feedback = _load(con, src, path)
    _reconciles([activities, feedback])
    assert (activities.dataset, activities.rows_read, activities.rows_loaded, activities.rows_quarantined,
            activities.rows_skipped) == ("activities", 5, 3, 1, 1)
    assert (feedback.dataset, feedback.rows_read, feedback.rows_loaded, feedback.rows_quarantined,
            feedback.rows_skipped) == ("feedback", 5, 1, 2, 2)
    got = con.execute("SELECT event_id, occurred_at, employee_id, value, _line FROM activities ORDER BY 1").fetchall()
    # 01/07/2026 09:30 in Madrid (UTC+2) — a text date, an Excel time value; a real date cell on row 6
    assert got == [("0001", dt.datetime(2026, 7, 1, 7, 30, tzinfo=UTC), "Marta Ruiz", Decimal("4.5"), 4),
                   ("0003", dt.datetime(2026, 7, 2, 14, tzinfo=UTC), "Piet de Vries", Decimal("12"), 6),
                   ("0005", dt.datetime(2026, 7, 3, 9, tzinfo=UTC), "Piet de Vries", Decimal("3"), 8)]
    assert con.execute("SELECT survey_id, score, responded_at FROM feedback").fetchall() == \
        [("0001", Decimal("9"), dt.datetime(2026, 7, 1, 7, 30, tzinfo=UTC))]
    # quarantine names the original file and the sheet's row
    assert con.execute("SELECT dataset, file, line, reason FROM quarantine ORDER BY dataset, line").fetchall() == [
        ("activities", "calls/calls.xlsx", 7, "bad_type"),  # 31 June
        ("feedback", "calls/calls.xlsx", 7, "bad_type"),
        ("feedback", "calls/calls.xlsx", 8, "out_of_range"),  # a rating of 11 on a 0..10 scale
    ]
    # the columns a feed does not read (its `when` reads Answered) are kept in `extra`
    assert con.execute("SELECT extra FROM activities WHERE event_id = '0001'").fetchall() == [('{"Rating":"9"}',)]


def test_a_mapping_that_does_not_fit_the_file_writes_nothing(tmp_path, con):
    src = _mapping(tmp_path, CRM.replace("owner_employee_id: Sales Agent", "owner_employee_id: Owner"))
    path = tmp_path / "export.csv"
    path.write_text(CRM_CSV, encoding="utf-8")
    with pytest.raises(MappingRefused, match=r"crm\.yaml:\d+: feeds\.0\.columns\.owner_employee_id: no column "
                                             r"'Owner' in crm/export\.csv"):
        _load(con, src, path)
    assert con.execute("SELECT count(*) FROM ingestion_log").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(0,)]


def test_names_as_ids_are_compared_exactly_after_trimming(tmp_path, con):
    text = """\
feeds:
  - dataset: employees
    columns:
      employee_id: Name
      full_name: Name
      department: {value: sales}
      role: {value: seller}
      fte: {value: 1}
      bonus_target: {value: 1000}
      currency: {value: EUR}
      effective_from: {value: 2026-01-01}
      manager_id: Manager
"""
    src = _mapping(tmp_path, text, "team")
    first = tmp_path / "a.csv"
    first.write_text("Name,Manager\nJosé Núñez ,Ann Lee\nAnn Lee,\njosé núñez,Ann Lee\n", encoding="utf-8")
    (e,) = _load(con, src, first, sha="1")
    assert (e.rows_loaded, e.rows_quarantined) == (3, 0)  # case is kept: two different ids
    again = tmp_path / "b.csv"
    again.write_text("Name,Manager\n  José Núñez,Ann Lee\n", encoding="utf-8")
    (e,) = _load(con, src, again, sha="2")
    assert (e.rows_loaded, e.rows_duplicate) == (0, 1)  # the same person, delivered again
    assert sorted(r[0] for r in con.execute("SELECT employee_id FROM employees").fetchall()) == \
        ["Ann Lee", "José Núñez", "josé núñez"]


def test_dry_run_reports_and_writes_nothing(tmp_path):
    src = _mapping(tmp_path, CRM)
    path = tmp_path / "export.csv"
    path.write_text(CRM_CSV, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = dry_run(src, path, "crm/export.csv", _rules, "UTC", sample=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    (feed,) = result.feeds
    assert feed.matched["owner_employee_id"] == ("SALES AGENT ",) and feed.extra == ["product"]
    assert (feed.entry.rows_read, feed.entry.rows_loaded, feed.entry.rows_quarantined) == (6, 4, 2)
    assert feed.reasons == [("bad_type", 1), ("unmapped_value", 1)]
    assert feed.unmapped == [("stage ('Negotiation' is not in its map)", 1)]
    assert [r[0] for r in feed.rows] == ["1C1I7A6R", "Z063OYW0"]


# ------------------------------------------------------------------------------------------------ presets
PRESET_SAMPLES = {
    # preset: (sample, {dataset: (read, loaded, quarantined, skipped)})
    "salesforce-opportunities": ("salesforce-opportunities.csv", {"opportunities": (8, 6, 2, 0)}),
    # a stage label of the sample's portal ("Negotiation") is not in the preset's map: that is what `YOURS` marks
    "hubspot-deals": ("hubspot-deals.csv", {"opportunities": (5, 3, 1, 1)}),
    "pipedrive-deals": ("pipedrive-deals.xlsx", {"opportunities": (4, 4, 0, 0)}),
    "zendesk-tickets": ("zendesk-tickets.csv", {"activities": (5, 4, 0, 1), "feedback": (5, 3, 0, 2)}),
    "bamboohr-employees": ("bamboohr-employees.csv", {"employees": (5, 5, 0, 0)}),
}


def pipedrive_workbook(path: Path) -> None:
    """Pipedrive's deals export as .xlsx (its column names; dates as the export writes them)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Deals")
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write_row(0, 0, ["Deal - ID", "Deal - Title", "Deal - Organization", "Deal - Owner", "Deal - Value",
                        "Deal - Currency of value", "Deal - Status", "Deal - Creation date", "Deal - Won time",
                        "Deal - Lost time", "Deal - Stage (pipeline)"])
    rows = [
        (501, "Cancity fleet", "Cancity", "José Núñez", 18000, "EUR", "Won", dt.datetime(2026, 7, 1, 9),
         dt.datetime(2026, 8, 20, 15, 30), None, "Negotiations Started"),
        (502, "Isdom trial", "Isdom", "José Núñez", 2500.75, "EUR", "Lost", dt.datetime(2026, 7, 5, 10), None,
         dt.datetime(2026, 9, 1, 12), "Proposal Made"),
        (503, "Konex", "Konex", "Ann Lee", 4000, "EUR", "Open", dt.datetime(2026, 9, 10, 8), None, None,
         "Contact Made"),
        (504, "Acme renewal", "Acme Corp", "Ann Lee", "9,999.00", "EUR", "Won", "2026-07-15 10:00:00",
         "2026-09-29 17:00:00", None, "Negotiations Started"),
    ]
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if isinstance(v, dt.datetime):
                ws.write_datetime(r, c, v, stamp)
            elif v is not None:
                ws.write(r, c, v)
    wb.close()


def preset_sample(name: str, folder: Path) -> Path:
    """The preset's sample file, copied (or written) into ``folder``."""
    sample = PRESET_SAMPLES[name][0]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sample
    if sample.endswith(".xlsx"):
        pipedrive_workbook(target)
    else:
        shutil.copy(SAMPLES / sample, target)
    return target


@pytest.mark.parametrize("name", sorted(PRESET_SAMPLES))
def test_each_preset_maps_its_sample(tmp_path, con, name):
    src = load_mapping(presets()[name])
    path = preset_sample(name, tmp_path)
    entries = _load(con, src, path)
    _reconciles(entries)
    got = {e.dataset: (e.rows_read, e.rows_loaded, e.rows_quarantined, e.rows_skipped) for e in entries}
    assert got == PRESET_SAMPLES[name][1], con.execute("SELECT dataset, line, details FROM quarantine").fetchall()


def test_salesforce_preset_values(tmp_path, con):
    src = load_mapping(presets()["salesforce-opportunities"])
    _load(con, src, preset_sample("salesforce-opportunities", tmp_path))
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT opportunity_id, owner_employee_id, stage, amount, source, closed_at FROM opportunities").fetchall()}
    assert rows["Cancity - GTX Plus"] == ("José Núñez", "won", Decimal("12500.00"), "marketing",
                                          dt.datetime(2026, 7, 15, 5, tzinfo=UTC))  # midnight in Bogotá
    assert rows["Cancity - MG Special"][1:] == ("open", Decimal("3000.00"), "marketing", None)  # close date is plan
    assert rows["Rantouch"][2:4] == (Decimal("0"), "outbound")  # blank amount and lead source: the defaults
    assert con.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall() == \
        [(8, "currency_mismatch"), (9, "unmapped_value")]  # USD in a EUR plan; 'Trade Show' not in the map


def test_bamboohr_preset_joins_names_and_maps_departments(tmp_path, con):
    _load(con, load_mapping(presets()["bamboohr-employees"]), preset_sample("bamboohr-employees", tmp_path))
    assert con.execute("SELECT employee_id, full_name, department, effective_from, effective_to, manager_id "
                       "FROM employees ORDER BY 1").fetchall()[2:4] == [
        ("1003", "Marta Ruiz", "customer_service", dt.date(2022, 6, 1), None, "1001"),
        ("1004", "Piet de Vries", "customer_service", dt.date(2023, 2, 14), dt.date(2026, 9, 30), "1001")]


def test_zendesk_preset_reads_offsets(tmp_path, con):
    _load(con, load_mapping(presets()["zendesk-tickets"]), preset_sample("zendesk-tickets", tmp_path))
    assert con.execute("SELECT occurred_at FROM activities WHERE event_id = '48215'").fetchall() == \
        [(dt.datetime(2026, 9, 3, 15, 45, tzinfo=UTC),)]  # 17:45 +0200
    assert sorted(con.execute("SELECT survey_id, score FROM feedback").fetchall()) == \
        [("48211", Decimal("10")), ("48212", Decimal("0")), ("48215", Decimal("10"))]


def test_changing_the_mapping_changes_its_hash_only(tmp_path):
    a = parse_mapping(CRM, tmp_path / "crm.yaml")
    b = parse_mapping(CRM.replace("Engaging: open", "Engaging: lost"), tmp_path / "crm.yaml")
    assert a.sha256 != b.sha256


def test_an_existing_home_gets_rows_skipped_and_the_mapping_hash(tmp_path):
    """A ledger written before source mappings: its rows get rows_skipped 0 (and still reconcile) on migrate."""
    import duckdb

    from warehouse.db import migrate

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("""CREATE SEQUENCE ingestion_seq; CREATE TABLE ingestion_log (
        seq BIGINT NOT NULL DEFAULT nextval('ingestion_seq'), file VARCHAR NOT NULL, dataset VARCHAR,
        sha256 VARCHAR NOT NULL, rows_read BIGINT NOT NULL, rows_loaded BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL, rows_duplicate BIGINT NOT NULL, status VARCHAR NOT NULL,
        message VARCHAR, file_mtime TIMESTAMPTZ, ingested_at TIMESTAMPTZ NOT NULL, quarantined_to VARCHAR)""")
    con.execute("INSERT INTO ingestion_log (file, dataset, sha256, rows_read, rows_loaded, rows_quarantined, "
                "rows_duplicate, status, ingested_at) VALUES ('activities/a.csv', 'activities', 'x', 5, 3, 1, 1, "
                "'loaded', now())")
    migrate(con)
    assert con.execute("SELECT rows_skipped, mapping_sha256, rows_read = rows_loaded + rows_quarantined + "
                       "rows_duplicate + rows_skipped FROM ingestion_log").fetchall() == [(0, None, True)]
    con.close()


def test_an_xlsx_in_a_dataset_folder_loads_with_the_contract(tmp_path, con):
    """A workbook in contract shape: real date cells, numbers and text ids read as what they mean."""
    import xlsxwriter

    from warehouse.load import load_file

    path = tmp_path / "roster.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, ["employee_id", "full_name", "department", "role", "fte", "bonus_target", "currency",
                        "effective_from"])
    ws.write_row(1, 0, ["0042", "Lucía Gómez", "sales", "seller", 0.5, 12000.5, "EUR"])
    ws.write_datetime(1, 7, dt.datetime(2026, 1, 1), day)
    ws.write_row(2, 0, ["0043", "Ann Lee", "sales", "seller", 1.5, 100, "EUR", "2026-02-01"])  # fte > 1
    wb.close()
    entry = LedgerEntry("employees/roster.xlsx", "employees", "x", 0, 0, 0, 0, "loaded", None, None)
    e = load_file(con, entry, path, _rules("employees"), "UTC")
    assert (e.rows_read, e.rows_loaded, e.rows_quarantined) == (2, 1, 1)
    assert con.execute("SELECT employee_id, fte, bonus_target, effective_from FROM employees").fetchall() == \
        [("0042", Decimal("0.5"), Decimal("12000.50"), dt.date(2026, 1, 1))]
    assert con.execute("SELECT line, reason FROM quarantine").fetchall() == [(3, "out_of_range")]
