"""Close a period, let late data arrive, reopen it: through the CLI and real Prefect flows (test harness).

One scenario (module fixture) on a generated organisation of 40 employees over 6 months:
run -> close 2026-Q2 -> export (csv, xlsx) -> a late opportunities file for Q2 -> run -> reopen -> export.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import pytest
from typer.testing import CliRunner

from orbit.cli import app
from warehouse.home import Home
from warehouse.periods import PERIOD_STATUS_COLUMNS

END = dt.date(2026, 9, 30)
CLOSED, OPEN = "2026-Q2", "2026-Q3"
FROZEN_MARTS = ["employee_scores", "evaluation_matrix", "bonus_lines", "attribution_credits",
                "attribution_department_values", "department_matrix"]
runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, list(args))


def _marts(home: Home, period: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return {m: con.execute(f"SELECT * FROM {m} WHERE period = ? ORDER BY ALL", [period]).fetchall()
                for m in FROZEN_MARTS}


def _export(home: Home, period: str, fmt: str, folder: str, *extra: str) -> bytes:
    out = home.root / folder
    out.mkdir(exist_ok=True)
    result = _cli("export", "bonus", "--period", period, "--format", fmt, "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    return next(out.glob(f"bonus_{period}*.{fmt}")).read_bytes()


def _published(home: Home, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(home.published), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _warehouse_state(home: Home) -> list:
    """Everything an evaluation writes (marts, period state, runs): to check a refused one wrote nothing."""
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in (*FROZEN_MARTS, "period_status", "runs", "data_quality")]


def _late_opportunity(frames) -> str:
    """A big won deal closed in the closed quarter, delivered after the close (changes company revenue)."""
    seller = frames["employees"].filter(frames["employees"]["department"] == "sales")["employee_id"][0]
    return ("opportunity_id,customer_id,created_at,stage,amount,currency,owner_employee_id,source,closed_at\n"
            f"O9999999,C00001,2026-05-02T10:00:00-05:00,won,900000.00,EUR,{seller},inbound,"
            "2026-06-20T16:00:00-05:00\n")


@pytest.fixture(scope="module")
def scenario(prefect_harness, default_plans, tmp_path_factory):
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("orbit") / "home").ensure()
    mp = pytest.MonkeyPatch()
    mp.setenv("ORBIT_HOME", str(home.root))
    frames = generate_org(employees=40, months=6, seed=11, end_date=END, plan=default_plans.base, bad_rows=0.02)
    write_org(frames, home.landing, end_date=END)
    s = {"home": home, "frames": frames}
    s["first"] = run_flow(home, default_plans)
    s["before_refusals"] = _warehouse_state(home)
    s["evaluate_month"] = _cli("evaluate", "--period", "2026-08")
    s["evaluate_no_data"] = _cli("evaluate", "--period", "2024-Q1")
    s["after_refusals"] = _warehouse_state(home)
    from flows.evaluate import evaluate_flow  # as an arrival run does, with periods touched through a window
    s["evaluate_touched"] = evaluate_flow(home, default_plans, ["2024-Q1", CLOSED])
    s["status_before_close"] = _cli("export", "bonus", "--period", CLOSED)
    s["close"] = _cli("close", "--period", CLOSED)
    s["close_again"] = _cli("close", "--period", CLOSED)
    s["marts_closed"] = _marts(home, CLOSED)
    s["export_closed"] = {fmt: _export(home, CLOSED, fmt, "exports-1") for fmt in ("csv", "xlsx")}
    s["draft_open"] = _export(home, OPEN, "csv", "exports-1", "--draft")
    (home.landing / "opportunities" / "opportunities_late.csv").write_text(_late_opportunity(frames))
    s["second"] = run_flow(home, default_plans)
    s["marts_after_late"] = _marts(home, CLOSED)
    s["export_after_late"] = {fmt: _export(home, CLOSED, fmt, "exports-2") for fmt in ("csv", "xlsx")}
    s["status_pending"] = _published(home, f"SELECT {', '.join(PERIOD_STATUS_COLUMNS)} FROM period_status "
                                           "ORDER BY period")
    s["reopen"] = _cli("reopen", "--period", CLOSED, "--reason", "late opportunity O9999999")
    s["reopen_open"] = _cli("reopen", "--period", CLOSED, "--reason", "again")
    s["marts_reopened"] = _marts(home, CLOSED)
    s["export_open_refused"] = _cli("export", "bonus", "--period", CLOSED)
    s["close_after_reopen"] = _cli("close", "--period", CLOSED)
    s["export_restated"] = _export(home, CLOSED, "csv", "exports-3")
    # HR tries to close the current quarter on 20 September, before it has ended
    mp.setenv("ORBIT_TODAY", "2026-09-20")
    s["close_unfinished"] = _cli("close", "--period", OPEN)
    s["close_partial_no_reason"] = _cli("close", "--period", OPEN, "--allow-partial")
    s["unfinished_state"] = _published(home, "SELECT state FROM period_status WHERE period = ?", [OPEN])
    s["close_partial"] = _cli("close", "--period", OPEN, "--allow-partial", "--reason", "leaver paid early")
    mp.delenv("ORBIT_TODAY")
    s["verify"] = _cli("audit", "verify")
    yield s
    mp.undo()


def test_close_records_the_run_user_and_time(scenario):
    home = scenario["home"]
    assert scenario["status_before_close"].exit_code == 2
    assert "not closed" in scenario["status_before_close"].output
    assert scenario["close"].exit_code == 0, scenario["close"].output
    assert scenario["close_again"].exit_code == 2 and "already closed" in scenario["close_again"].output
    (row,) = [r for r in scenario["status_pending"] if r[0] == CLOSED]
    period, state, run_id, closed_at, closed_by, *_ = row
    assert state == "closed" and run_id == scenario["first"].evaluation.run_id
    assert closed_by and closed_at is not None
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        audit = con.execute("SELECT action, period, run_id, input_hashes FROM audit_log WHERE action = 'close_period' "
                            "ORDER BY seq LIMIT 1").fetchall()
    assert audit == [("close_period", CLOSED, run_id, audit[0][3])] and audit[0][3]


def test_late_data_does_not_change_a_closed_period_and_is_flagged(scenario):
    second = scenario["second"].evaluation
    assert second.run_id != scenario["first"].evaluation.run_id  # new data, new run
    assert CLOSED in second.kept and CLOSED in second.pending and CLOSED not in second.periods
    assert OPEN in second.periods
    assert all(scenario["marts_closed"][m] for m in ("employee_scores", "bonus_lines", "evaluation_matrix"))
    assert scenario["marts_after_late"] == scenario["marts_closed"]
    assert scenario["export_after_late"] == scenario["export_closed"]
    status = {r[0]: r for r in scenario["status_pending"]}
    assert status[CLOSED][1:2] == ("closed",) and status[CLOSED][5] is True and status[CLOSED][6] is not None
    assert status[OPEN][1] == "open" and status[OPEN][5] is False


def test_reopen_restates_per_employee_and_opens_the_period(scenario):
    home = scenario["home"]
    assert scenario["reopen"].exit_code == 0, scenario["reopen"].output
    assert scenario["reopen_open"].exit_code == 2 and "not closed" in scenario["reopen_open"].output
    assert scenario["marts_reopened"] != scenario["marts_closed"]
    first, second = scenario["first"].evaluation.run_id, scenario["second"].evaluation.run_id
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        rows = con.execute(
            """SELECT employee_id, old_run_id, new_run_id, old_bonus_amount, new_bonus_amount, difference, reason,
                      old_composite, new_composite FROM restatements WHERE period = ?""", [CLOSED]).fetchall()
        employees = con.execute("SELECT count(*) FROM bonus_lines WHERE period = ?", [CLOSED]).fetchall()[0][0]
    assert len(rows) == employees
    assert {(r[1], r[2], r[6]) for r in rows} == {(first, second, "late opportunity O9999999")}
    changed = [r for r in rows if r[5] != 0]
    assert changed and all(r[4] - r[3] == r[5] for r in changed)
    assert any(r[7] != r[8] for r in rows)
    # closed again on the new run: its export now differs from the first close's
    assert scenario["export_open_refused"].exit_code == 2
    assert scenario["close_after_reopen"].exit_code == 0, scenario["close_after_reopen"].output
    assert scenario["export_restated"] != scenario["export_closed"]["csv"]
    assert second.encode() in scenario["export_restated"]


def test_close_reopen_and_exports_are_audited_and_the_chain_verifies(scenario):
    home = scenario["home"]
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        actions = [a for (a,) in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
        exports = con.execute("SELECT period, run_id, plan_version, input_hashes, output_sha256 FROM audit_log "
                              "WHERE action = 'export_bonus' ORDER BY seq").fetchall()
        reopen = con.execute("SELECT run_id, detail FROM audit_log WHERE action = 'reopen_period'").fetchall()
    assert actions == ["close_period", "export_bonus", "export_bonus", "export_bonus_draft", "export_bonus",
                       "export_bonus", "reopen_period", "close_period", "export_bonus", "close_period"]
    assert hashlib.sha256(scenario["export_closed"]["csv"]).hexdigest() in {e[4] for e in exports}
    assert all(e[0] == CLOSED and e[1] and e[2] and e[3] for e in exports)
    assert exports[0][3] == exports[2][3]  # the closed run's inputs, even after the late file was ingested
    assert reopen[0][0] == scenario["second"].evaluation.run_id and "late opportunity O9999999" in reopen[0][1]
    assert scenario["verify"].exit_code == 0, scenario["verify"].output
    assert "intact (10 rows)" in scenario["verify"].output


def test_snapshot_holds_no_names_and_no_personal_money(scenario):
    """Every column name and every text value of the snapshot and its Parquet copies, after a restatement."""
    home = scenario["home"]
    names = set(scenario["frames"]["employees"]["full_name"].drop_nulls().to_list())
    names = {n for n in names if len(n) >= 5}  # bad rows may carry fragments; real names are longer
    assert len(names) >= 30
    forbidden = {"full_name", "bonus_target", "bonus_amount", "old_bonus_amount", "new_bonus_amount", "difference"}
    parquet = home.published.parent / "parquet"
    with duckdb.connect(str(home.published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM restatements").fetchall()[0][0] > 0
        sources = [(f'"{t}"', t) for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        sources += [(f"read_parquet('{p}')", p.name) for p in sorted(parquet.glob("*.parquet"))]
        assert len(sources) > 30
        for source, label in sources:
            schema = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            assert not {c[0] for c in schema} & forbidden, label
            for column in [c[0] for c in schema if c[1] in ("VARCHAR", "JSON")]:
                values = {v for (v,) in con.execute(f'SELECT DISTINCT "{column}" FROM {source}').fetchall() if v}
                leaked = {n for n in names for v in values if n in v}
                assert not leaked, f"{label}.{column} holds names: {sorted(leaked)[:3]}"


def _one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_evaluate_refuses_a_period_of_the_other_kind_or_without_data_and_writes_nothing(scenario):
    month, no_data = scenario["evaluate_month"], scenario["evaluate_no_data"]
    assert month.exit_code == 2 and no_data.exit_code == 2
    assert _one_line(month) == ("orbit: period 2026-08 is a month, but the plan evaluates by quarter: "
                                "use 2026-Q3")
    assert _one_line(no_data).startswith("orbit: period 2024-Q1 has no data: the data loaded runs from 2026-0")
    assert scenario["after_refusals"] == scenario["before_refusals"]


def test_close_refuses_a_quarter_that_has_not_ended_unless_allowed_with_a_reason(scenario):
    home = scenario["home"]
    refused = scenario["close_unfinished"]
    assert refused.exit_code == 2
    assert _one_line(refused) == (
        f"orbit: period {OPEN} is partial (it has not ended: it runs to 2026-09-30, today is 2026-09-20); "
        "close it when it is complete, or anyway with --allow-partial --reason TEXT")
    assert scenario["close_partial_no_reason"].exit_code == 2
    assert "--reason" in _one_line(scenario["close_partial_no_reason"])
    assert scenario["unfinished_state"] == [("open",)]
    assert scenario["close_partial"].exit_code == 0, scenario["close_partial"].output
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        state = con.execute("SELECT state FROM period_status WHERE period = ?", [OPEN]).fetchall()
        detail = con.execute("SELECT detail FROM audit_log WHERE action = 'close_period' AND period = ? ",
                             [OPEN]).fetchall()
    assert state == [("closed",)]
    assert len(detail) == 1 and detail[0][0].endswith(
        " employee(s) frozen; closed while partial (it has not ended: it runs to 2026-09-30, today is 2026-09-20); "
        "reason: leaver paid early")


def test_complete_quarters_are_not_partial_and_say_which_days_their_data_covers(scenario):
    rows = _published(scenario["home"], "SELECT period, partial, first_data_day, last_data_day FROM period_status "
                                        "ORDER BY period")
    assert rows[:2] == [(CLOSED, False, dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
                        (OPEN, False, dt.date(2026, 7, 1), dt.date(2026, 9, 30))]
    scores = _published(scenario["home"], "SELECT DISTINCT period, partial, first_data_day, last_data_day "
                                          "FROM employee_scores ORDER BY period")
    assert scores == rows


def test_a_touched_period_without_data_is_skipped_not_written(scenario):
    summary = scenario["evaluate_touched"]
    assert summary.periods == [CLOSED] and summary.skipped == ["2024-Q1"]
    with duckdb.connect(str(scenario["home"].warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM employee_scores WHERE period = '2024-Q1'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM period_status WHERE period = '2024-Q1'").fetchall() == [(0,)]
