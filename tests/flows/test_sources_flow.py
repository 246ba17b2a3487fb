"""Source files through the real ingest flow: a refused mapping leaves files waiting with the reason, a changed
mapping never reinterprets loaded rows, a re-delivery under it is a new delivery; the presets' samples are mapped,
ingested and evaluated (names as ids, from a team list, all the way to the evaluation matrix)."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from schemas.sources import presets

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "sources"
_MTIME = [1_780_000_000]

CRM = """\
read:
  date_formats: ["%m/%d/%Y"]
feeds:
  - dataset: opportunities
    columns:
      opportunity_id: opportunity_id
      customer_id: account
      owner_employee_id: sales_agent
      stage: {from: deal_stage, map: {Won: won, Lost: lost, Engaging: open}}
      created_at: engage_date
      closed_at: {from: close_date, when: {equals: {deal_stage: [Won, Lost]}}}
      amount: {from: close_value, default: 0}
      currency: {value: EUR}
      source: {value: inbound}
"""
EXPORT = """\
opportunity_id,sales_agent,account,deal_stage,engage_date,close_date,close_value
O1,Moses Frase,Cancity,Won,7/1/2026,8/1/2026,100
O2,Moses Frase,Isdom,Engaging,7/2/2026,,
O3,Ann Lee,Konex,Lost,7/3/2026,8/3/2026,50
"""


def land(home, folder: str, name: str, content: str, mtime: int | None = None) -> Path:
    path = home.landing / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    _MTIME[0] += 10
    os.utime(path, (mtime or _MTIME[0],) * 2)
    return path


def mapping(home, name: str, text: str) -> Path:
    home.sources.mkdir(parents=True, exist_ok=True)
    path = home.sources / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def q(home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def ledger_reconciles(home) -> None:
    assert q(home, "SELECT count(*) FROM ingestion_log WHERE rows_read <> rows_loaded + rows_quarantined + "
                   "rows_duplicate + rows_skipped") == [(0,)]


def test_refused_mapping_leaves_files_waiting_and_a_changed_one_never_reinterprets(home, default_plans,
                                                                                   prefect_harness):
    from flows.ingest import ingest_flow

    mapping(home, "crm", CRM.replace("sales_agent", "Opportunity Owner"))  # not a column of the export
    export = land(home, "crm", "export.csv", EXPORT)
    (entry,) = ingest_flow(home, default_plans)
    assert entry.status == "waiting" and "no column 'Opportunity Owner' in crm/export.csv" in entry.message
    assert "crm.yaml:8: feeds.0.columns.owner_employee_id" in entry.message
    assert export.exists()  # the file waits in landing, nothing is loaded
    assert ingest_flow(home, default_plans) == []  # the same reason is ledgered once
    assert q(home, "SELECT status FROM ingestion_log") == [("waiting",)]
    from flows.publish import publish_flow
    from orbit.status import render_status

    publish_flow(home)
    status = render_status(home)
    assert "Waiting in landing" in status and "crm/export.csv:" in status
    assert "no column 'Opportunity Owner' in crm/export.csv" in status

    mapping(home, "crm", CRM)  # fixed: the waiting file loads
    (entry,) = ingest_flow(home, default_plans)
    assert (entry.status, entry.dataset, entry.rows_loaded) == ("loaded", "opportunities", 3)
    first_hash = entry.mapping_sha256
    from flows.ingest import find_touched_periods

    assert find_touched_periods(home, default_plans, ["crm/export.csv"], ["opportunities"]) == \
        {"opportunities": ["2026-Q3"]}
    assert q(home, "SELECT stage FROM opportunities WHERE opportunity_id = 'O2'") == [("open",)]

    mapping(home, "crm", CRM.replace("default: 0", "default: 1"))  # edited: loaded rows stay as they are
    assert ingest_flow(home, default_plans) == []
    assert q(home, "SELECT amount FROM opportunities WHERE opportunity_id = 'O2'") == [(Decimal("0.00"),)]

    # the same file delivered again (a new modification time): a new delivery under the new mapping, newest wins
    os.utime(export, (_MTIME[0] + 100,) * 2)
    (entry,) = ingest_flow(home, default_plans)
    assert entry.status == "loaded" and entry.mapping_sha256 != first_hash
    assert (entry.rows_loaded, entry.rows_duplicate) == (1, 2)  # O2 changed; O1 and O3 map as before
    assert q(home, "SELECT amount FROM opportunities WHERE opportunity_id = 'O2'") == [(Decimal("1.00"),)]
    assert q(home, "SELECT amount FROM opportunities_history WHERE opportunity_id = 'O2'") == [(Decimal("0.00"),)]
    assert q(home, "SELECT count(DISTINCT mapping_sha256) FROM ingestion_log WHERE status = 'loaded'") == [(2,)]
    ledger_reconciles(home)


def test_a_source_folder_without_a_mapping_is_still_rejected(home, default_plans, prefect_harness):
    from flows.ingest import ingest_flow

    land(home, "crm", "export.csv", EXPORT)
    (entry,) = ingest_flow(home, default_plans)
    assert entry.status == "rejected" and "folder 'crm' is not a dataset" in entry.message


TEAM = """\
# the sales team list of the README's worked example: names are the ids
feeds:
  - dataset: employees
    columns:
      employee_id: Name
      full_name: Name
      department: {from: Team, map: {Sales: sales, Support: customer_service}}
      role: Role
      manager_id: Manager
      fte: {value: 1}
      bonus_target: {value: 6000}
      currency: {value: EUR}
      effective_from: {value: 2026-01-01}
"""
TEAM_CSV = """\
Name,Team,Role,Manager,Office
Lucía Gómez,Sales,head of sales,,Madrid
José Núñez,Sales,account executive,Lucía Gómez,Madrid
Ann Lee,Sales,account executive,Lucía Gómez,Remote
Marta Ruiz,Support,agent,Lucía Gómez,Bogotá
Piet de Vries,Support,agent,Lucía Gómez,Utrecht
"""


@pytest.mark.slow
def test_presets_mapped_ingested_and_evaluated(home, default_plans, prefect_harness):
    from flows.evaluate import evaluate_flow
    from flows.ingest import ingest_flow
    from tests.warehouse.test_sources import preset_sample

    home.sources.mkdir(parents=True, exist_ok=True)
    for name in presets():
        shutil.copy(presets()[name], home.sources / f"{name}.yaml")
        path = preset_sample(name, home.landing / name)
        _MTIME[0] += 10
        os.utime(path, (_MTIME[0],) * 2)
    mapping(home, "team", TEAM)
    land(home, "team", "team.csv", TEAM_CSV)
    entries = ingest_flow(home, default_plans)
    assert {(e.file.split("/")[0], e.dataset, e.status) for e in entries} == {
        ("salesforce-opportunities", "opportunities", "loaded"), ("hubspot-deals", "opportunities", "loaded"),
        ("pipedrive-deals", "opportunities", "loaded"), ("zendesk-tickets", "activities", "loaded"),
        ("zendesk-tickets", "feedback", "loaded"), ("bamboohr-employees", "employees", "loaded"),
        ("team", "employees", "loaded")}
    ledger_reconciles(home)
    summary = evaluate_flow(home, default_plans, ["2026-Q3"])
    assert summary.periods == ["2026-Q3"]
    scores = dict(q(home, "SELECT employee_id || '/' || metric, actual FROM evaluation_matrix "
                          "WHERE period = '2026-Q3' AND actual IS NOT NULL"))
    # José Núñez (a name as id) closed in 2026-Q3: Salesforce won 2, lost 1; HubSpot won 1, lost 1;
    # Pipedrive won 1, lost 1 -> 4 won of 7 closed
    assert abs(scores["José Núñez/closing_index"] - Decimal(4) / 7) < Decimal("1e-9")
    # Ann Lee: Salesforce won 1 (the USD deal is quarantined), lost 1; Pipedrive won 1 -> 2 of 3
    assert abs(scores["Ann Lee/closing_index"] - Decimal(2) / 3) < Decimal("1e-9")
    # Marta Ruiz's tickets (Zendesk): 3 solved in the quarter; her satisfaction: Good (10) and Bad (0) -> 5
    assert scores["Marta Ruiz/tickets"] == 3
    assert scores["Marta Ruiz/csat"] == 5
