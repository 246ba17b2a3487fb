"""`orbit demo`: a seeded organisation through the whole pipeline, and a summary of what came out."""

from __future__ import annotations

import datetime as dt

import duckdb

from schemas.plan import PlanSet, readable
from transforms.periods import period_of
from warehouse.home import Home


def last_complete_period(end: dt.date, kind: str):
    """The last period that ends on or before ``end``."""
    period = period_of(end, kind)
    return period if period.end <= end else period.previous


def run_demo(home: Home, plans: PlanSet, *, employees: int, months: int, seed: int,
             end_date: dt.date | None = None) -> str:
    """Generate, ingest, evaluate, publish and export a draft; return the summary text."""
    from flows.export import export_bonus_flow
    from flows.run import run_flow
    from orbit.report import default_report_path, write_report
    from orbit.synth import default_end_date, generate_org, write_org

    end = end_date or default_end_date(dt.date.today())
    frames = generate_org(employees=employees, months=months, seed=seed, end_date=end, plan=plans.base,
                          bad_rows=0.01)
    write_org(frames, home.landing, end_date=end)
    run_flow(home, plans)
    period = last_complete_period(end, plans.base.period).label
    export = export_bonus_flow(home, period, "csv", None, True)
    report = write_report(home.published, period, default_report_path(home, period), plans)
    return summarize(home, period, export, report, plans)


def summarize(home: Home, period: str, export, report, plans: PlanSet | None = None) -> str:
    """The demo's summary from the published snapshot; departments by their labels in ``plans``."""
    label = plans.base.department_label if plans is not None else readable
    con = duckdb.connect(str(home.published), read_only=True)
    try:
        lines = [f"Orbit demo — {home.root}", "", "Ingested (rows read = loaded + quarantined + duplicate):"]
        for ds, read, loaded, quarantined, dup in con.execute(
            "SELECT dataset, sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate) "
            "FROM ingestion_log GROUP BY dataset ORDER BY dataset"
        ).fetchall():
            lines.append(f"  {ds:<14} read {read:>9,}  loaded {loaded:>9,}  quarantined {quarantined:>6,}  duplicate {dup:>5,}")
        reasons = con.execute(
            "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1").fetchall()
        if reasons:
            lines.append(f"  quarantine reasons ({sum(n for _, n in reasons):,} rows): "
                         + ", ".join(f"{r} {n:,}" for r, n in reasons))
        lines += ["", f"Cross-area contribution in {period} (won amount credited, by department; top contributor):"]
        rows = con.execute(
            """WITH d AS (SELECT department, sum(credit) AS credit, count(DISTINCT opportunity_id) AS opps
                          FROM attribution_credits WHERE period = ? GROUP BY department),
                    e AS (SELECT department, employee_id, sum(credit) AS credit,
                                 row_number() OVER (PARTITION BY department ORDER BY sum(credit) DESC, employee_id) AS rk
                          FROM attribution_credits WHERE period = ? GROUP BY department, employee_id)
               SELECT d.department, d.credit, d.opps, e.employee_id, e.credit
               FROM d JOIN e ON e.department = d.department AND e.rk = 1 ORDER BY d.credit DESC""",
            [period, period],
        ).fetchall()
        for dept, credit, opps, top, top_credit in rows:
            lines.append(f"  {label(dept):<17} {credit:>14,.2f} over {opps:>4} deals   top: {top} ({top_credit:,.2f})")
        score = con.execute(
            "SELECT count(*), avg(composite), count(*) FILTER (WHERE incomplete) FROM employee_scores WHERE period = ?",
            [period]).fetchall()[0]
        lines += ["", f"Scores in {period}: {score[0]} employees, mean composite {float(score[1] or 0):.3f}, "
                      f"{score[2]} incomplete (see employee_scores.incomplete_reason)"]
        lines += [
            "",
            "Where to look next:",
            f"  warehouse (pipeline only):  {home.warehouse}",
            f"  analyst snapshot:           {home.published}",
            f"  draft bonus export:         {export}",
            f"  HTML report (open offline): {report}",
            "  query the snapshot:",
            f"    .venv/bin/python -c \"import duckdb; print(duckdb.connect('{home.published}', read_only=True)"
            ".sql('FROM scores_by_department'))\"",
            f"    or, with the duckdb CLI:  duckdb -readonly {home.published}",
            f"  where the revenue gap came from:  .venv/bin/orbit diagnose --period {period}",
            "  try a draft plan (writes nothing): .venv/bin/orbit simulate --plan plans/drafts/main-metrics.yaml",
        ]
        return "\n".join(lines)
    finally:
        con.close()
