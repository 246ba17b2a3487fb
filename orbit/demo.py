"""`orbit demo`: a seeded organisation through the whole pipeline, and a summary of what came out."""

from __future__ import annotations

import datetime as dt

from schemas.plan import PlanSet, readable
from transforms.periods import period_of
from warehouse.home import Home
from warehouse.snapshot import read_demo_figures


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
    figures = read_demo_figures(home.published, period)
    lines = [f"Orbit demo — {home.root}", "", "Ingested (rows read = loaded + quarantined + duplicate):"]
    for ds, read, loaded, quarantined, dup in figures.ingested:
        lines.append(f"  {ds:<14} read {read:>9,}  loaded {loaded:>9,}  quarantined {quarantined:>6,}  duplicate {dup:>5,}")
    if figures.reasons:
        lines.append(f"  quarantine reasons ({sum(n for _, n in figures.reasons):,} rows): "
                     + ", ".join(f"{r} {n:,}" for r, n in figures.reasons))
    lines += ["", f"Cross-area contribution in {period} (won amount credited, by department; top contributor):"]
    for dept, credit, opps, top, top_credit in figures.contribution:
        lines.append(f"  {label(dept):<17} {credit:>14,.2f} over {opps:>4} deals   top: {top} ({top_credit:,.2f})")
    score = figures.scores
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
