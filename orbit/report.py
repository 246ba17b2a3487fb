"""`orbit report`: one period of the published snapshot as a self-contained HTML page.

:mod:`warehouse.report` reads only ``published/analytics.duckdb`` through a read-only connection, so it never
waits for (or blocks) a writing run, and never sees names or per-person money. The page
embeds plotly.js once and needs no network to open; the same snapshot gives the same
bytes (fixed chart ids, nothing time-dependent but the snapshot's own publish time).
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.offline import get_plotlyjs

from orbit.diagnose import figure_text
from schemas.plan import PlanSet
from transforms import report as shape
from warehouse.home import Home
from warehouse.report import ReportData, ReportError, read_report_data

__all__ = ["ReportData", "ReportError", "read_report_data", "render_report", "write_report", "default_report_path"]

log = logging.getLogger(__name__)

SALES_COLOUR, OTHER_COLOUR = "#1f4e79", "#e8803a"
LOADED_COLOUR, QUARANTINED_COLOUR, DUPLICATE_COLOUR = "#4e79a7", "#e15759", "#bab0ac"
DATASET_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f"]
PLOTLY_CONFIG = {"displaylogo": False, "displayModeBar": False, "responsive": True}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


@dataclass(frozen=True)
class Chart:
    div_id: str
    title: str
    explanation: str
    figure: go.Figure | None  # None: nothing to draw, ``empty`` says why
    empty: str = ""
    after: str = ""  # HTML shown under the chart


def default_report_path(home: Home, period: str) -> Path:
    return home.root / "reports" / f"report_{period}.html"


# --------------------------------------------------------------------------- charts
def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=10, r=20, t=10, b=10),
                      font=dict(family=FONT, size=13, color="#1d2733"), **kw)
    return fig


def _money(value: Decimal, currency: str | None) -> str:
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def achievement_heatmap(grid: pl.DataFrame) -> go.Figure | None:
    metrics = [c for c in grid.columns if c != "department"]
    if grid.height == 0 or not metrics:
        return None
    z = [list(row) for row in grid.select(metrics).iter_rows()]
    top = max([v for row in z for v in row if v is not None] + [1.5])
    fig = go.Figure(go.Heatmap(
        z=z, x=metrics, y=grid["department"].to_list(), zmin=0, zmax=top, zmid=1.0,
        colorscale="RdYlGn", texttemplate="%{z:.2f}", hoverongaps=False, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="achievement"), thickness=12),
        hovertemplate="%{y} · %{x}<br>mean achievement %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top", tickangle=-30)
    return _layout(fig, 120 + 36 * grid.height)


def contribution_bars(contribution: pl.DataFrame, currency: str | None) -> go.Figure | None:
    if contribution.height == 0:
        return None
    fig = go.Figure()
    for area, name, colour in (("sales", "sales", SALES_COLOUR), ("other", "other departments", OTHER_COLOUR)):
        part = contribution.filter(pl.col("area") == area)
        if part.height:
            fig.add_trace(go.Bar(
                y=part["department"].to_list(), x=part["credit_value"].to_list(), orientation="h", name=name,
                marker_color=colour, text=[f"{s:.1%}" for s in part["share"]], textposition="outside",
                cliponaxis=False, customdata=part["opportunities"].to_list(),
                hovertemplate="%{y}: %{x:,.2f}" + (f" {currency}" if currency else "")
                              + "<br>%{customdata} won opportunities touched<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=contribution["department"].to_list()[::-1])
    fig.update_xaxes(title_text=f"credited won amount{f' ({currency})' if currency else ''}", tickformat=",.0f",
                     range=[0, max(contribution["credit_value"]) * 1.1])
    return _layout(fig, 90 + 34 * contribution.height, legend=dict(orientation="h", y=-0.15))


def composite_boxes(composites: pl.DataFrame) -> go.Figure | None:
    if composites.height == 0:
        return None
    fig = go.Figure(go.Box(
        x=composites["department"].to_list(), y=composites["composite"].to_list(), boxpoints="all", jitter=0.45,
        pointpos=0, boxmean=True, marker=dict(size=4, opacity=0.55, color=SALES_COLOUR),
        line=dict(color=SALES_COLOUR), fillcolor="rgba(31,78,121,0.12)", name="composite",
        hovertemplate="%{x}<br>composite %{y:.3f}<extra></extra>"))
    fig.add_hline(y=1.0, line=dict(color="#888", dash="dot", width=1))
    fig.update_yaxes(title_text="composite score", rangemode="tozero")
    return _layout(fig, 420, showlegend=False)


def quality_bars(quality: pl.DataFrame) -> go.Figure | None:
    if quality.height == 0:
        return None
    fig = go.Figure()
    for column, name, colour in (("rows_loaded", "loaded", LOADED_COLOUR),
                                 ("rows_quarantined", "quarantined", QUARANTINED_COLOUR),
                                 ("rows_duplicate", "duplicate", DUPLICATE_COLOUR)):
        values = quality[column].to_list()
        fig.add_trace(go.Bar(x=quality["dataset"].to_list(), y=values, name=name, marker_color=colour,
                             text=[f"{v:,}" for v in values], textposition="outside", cliponaxis=False,
                             hovertemplate="%{x}: %{y:,} rows " + name + "<extra></extra>"))
    fig.update_yaxes(type="log", dtick=1, title_text="rows (log scale)")
    return _layout(fig, 380, barmode="group", legend=dict(orientation="h", y=1.12))


def reason_bars(reasons: pl.DataFrame) -> go.Figure | None:
    if reasons.height == 0:
        return None
    order = reasons["reason"].unique(maintain_order=True).to_list()
    fig = go.Figure()
    for i, dataset in enumerate(sorted(reasons["dataset"].unique().to_list())):
        part = reasons.filter(pl.col("dataset") == dataset)
        fig.add_trace(go.Bar(y=part["reason"].to_list(), x=part["rows"].to_list(), orientation="h", name=dataset,
                             marker_color=DATASET_COLOURS[i % len(DATASET_COLOURS)],
                             hovertemplate="%{y} in " + dataset + ": %{x:,} rows<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1])
    fig.update_xaxes(title_text="rows quarantined")
    return _layout(fig, 110 + 30 * len(order), barmode="stack",
                   legend=dict(orientation="h", y=-0.25, traceorder="normal"))


def build_charts(data: ReportData) -> list[Chart]:
    other, total = data.cross_area
    return [
        Chart("chart-achievement", "Achievement by department and metric",
              "Mean achievement (actual against target, capped) of each department's employees on each metric "
              "of their matrix; 1.00 is on target. Blank cells are metrics the department is not weighted on.",
              achievement_heatmap(data.achievement), "No department matrix for this period."),
        Chart("chart-contribution", "Where the commercial result came from",
              f"Won amount of the period credited to the departments whose people touched each deal "
              f"({data.model or 'no'} attribution). Departments other than sales earned "
              f"{_share(other, total)} of the credit ({_money(other, data.currency)} of "
              f"{_money(total, data.currency)}).",
              contribution_bars(data.contribution, data.currency), "No opportunity was won in this period."),
        Chart("chart-composites", "Composite scores by department",
              "Each dot is one employee's composite score (weighted achievement); the box spans the middle half, "
              "the line is the median, the dashed line the mean; "
              "the dotted line at 1.00 is every metric on target.",
              composite_boxes(data.composites), "No employee was evaluated in this period."),
        *funnel_charts(data),
        Chart("chart-quality", "Data quality: loaded vs quarantined rows",
              "Rows of every file ingested so far, per dataset: loaded, quarantined (refused with a reason) and "
              "duplicate (already loaded). Log scale, so a handful of refused rows stays visible.",
              quality_bars(data.quality), "No file has been ingested."),
        Chart("chart-reasons", "Why rows were quarantined",
              "Quarantined rows by reason code and dataset (the rows themselves stay in the warehouse).",
              reason_bars(data.reasons), "No row was quarantined.", _orphans_html(data.orphans)),
    ]


def funnel_waterfall(rows: list[dict], column: str, start: tuple[str, Decimal], currency: str | None
                     ) -> go.Figure:
    """From ``start`` (target or previous revenue) through each stage's contribution to won revenue."""
    end = rows[-1]
    labels = [start[0], *(r["label"] for r in rows[:-1]), "Won revenue"]
    values = [float(start[1]), *(float(r[column]) for r in rows[:-1]), float(end["figure"])]
    unit = f" {currency}" if currency else ""
    fig = go.Figure(go.Waterfall(
        x=labels, y=values, measure=["absolute", *["relative"] * (len(rows) - 1), "total"],
        text=[f"{start[1]:,.0f}", *(f"{r[column]:+,.0f}" for r in rows[:-1]), f"{end['figure']:,.0f}"],
        textposition="outside", cliponaxis=False, connector=dict(line=dict(color="#bbb")),
        increasing=dict(marker=dict(color="#2e7d32")), decreasing=dict(marker=dict(color="#c62828")),
        totals=dict(marker=dict(color=SALES_COLOUR)), hovertemplate="%{x}: %{y:,.2f}" + unit + "<extra></extra>"))
    fig.update_yaxes(title_text=f"won revenue{f' ({currency})' if currency else ''}", tickformat=",.0f")
    return _layout(fig, 420, showlegend=False)


def funnel_charts(data: ReportData) -> list[Chart]:
    """"Where the revenue gap came from": the funnel against its target, and against the previous period."""
    if data.funnel is None:
        return []
    rows = data.funnel.to_dicts()
    if not rows:
        return [Chart("chart-gap", "Where the revenue gap came from", "", None,
                      "No revenue funnel for this period.")]
    end, unit = rows[-1], data.currency
    table = _funnel_table(rows)
    charts = []
    if end["contribution_to_gap"] is not None and end["target_figure"] is not None and all(
            r["contribution_to_gap"] is not None for r in rows[:-1]):
        charts.append(Chart(
            "chart-gap", "Where the revenue gap came from",
            f"Won revenue {_money(end['figure'], unit)} against its target {_money(end['target_figure'], unit)}: "
            f"a gap of {end['contribution_to_gap']:+,.2f}{f' {unit}' if unit else ''}, split over the funnel's "
            "stages (leads × SLA rate × closed per answered lead × win rate × average deal) with the logarithmic "
            "mean Divisia index: the stage contributions add up to the gap exactly.",
            funnel_waterfall(rows, "contribution_to_gap", ("Target", end["target_figure"]), unit), after=table))
    else:
        charts.append(Chart("chart-gap", "Where the revenue gap came from",
                            "The revenue funnel against its target.", None,
                            end["note"] or "The plan gives no funnel target (funnel.targets).", after=table))
    if end["previous_figure"] is None:
        charts.append(Chart("chart-change", "How won revenue changed from the previous period", "", None,
                            "No data in the previous period."))
    elif end["contribution_to_change"] is not None and all(r["contribution_to_change"] is not None
                                                           for r in rows[:-1]):
        charts.append(Chart(
            "chart-change", "How won revenue changed from the previous period",
            f"Won revenue went from {_money(end['previous_figure'], unit)} to {_money(end['figure'], unit)} "
            f"({end['contribution_to_change']:+,.2f}{f' {unit}' if unit else ''}); each stage's part, exactly.",
            funnel_waterfall(rows, "contribution_to_change", ("Previous period", end["previous_figure"]), unit)))
    else:
        charts.append(Chart("chart-change", "How won revenue changed from the previous period", "", None,
                            end["note"] or "The change is not split by stage."))
    return charts


def _funnel_table(rows: list[dict]) -> str:
    head = ("<tr><th>stage</th><th class=n>figure</th><th class=n>target</th><th class=n>previous period</th>"
            "<th class=n>part of the gap</th><th class=n>part of the change</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(r['label'])}</td><td class=n>{html.escape(figure_text(r))}</td>"
        f"<td class=n>{html.escape(figure_text(r, target=True))}</td>"
        f"<td class=n>{html.escape(figure_text(r, previous=True))}</td>"
        f"<td class=n>{_signed(r['contribution_to_gap'])}</td><td class=n>{_signed(r['contribution_to_change'])}</td>"
        "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _signed(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:+,.2f}"


def _missing_html(data: ReportData) -> str:
    """How many employees' results a missing metric changed, and how (per department and metric; the
    employees themselves are flagged in `orbit explain` and HR's export, never in this shareable page)."""
    if data.missing is None:
        return ""
    words = {"renormalise": "left out, weights renormalised", "zero": "counted as achievement 0",
             "hold": "bonus held"}
    reasons = {"no_actual": "no actual", "no_target": "no target", "no_actual_no_target": "no actual, no target"}
    flagged = data.missing["flagged"][0] if data.missing.height else 0
    if data.missing.height == 0:
        body = '<p class="empty">No employee\'s result was changed by a missing metric.</p>'
    else:
        rows = "".join(
            f"<tr><td>{html.escape(r['department'])}</td><td>{html.escape(r['metric'])}</td>"
            f"<td>{html.escape(reasons.get(r['reason'], r['reason']))}</td>"
            f"<td>{html.escape(words.get(r['when_missing'], r['when_missing']))}</td>"
            f"<td class=n>{r['employees']:,}</td></tr>" for r in data.missing.iter_rows(named=True))
        body = ("<table><tr><th>department</th><th>metric</th><th>missing</th><th>what the plan did</th>"
                f"<th class=n>employees</th></tr>{rows}</table>")
    return (f"<section><h2>Results changed by missing data ({flagged:,} employees)</h2><p class=\"why\">"
            "Metrics without an actual or a target, and what the plan's missing-data policy "
            "(<code>when_missing</code>) did: left them out and renormalised the weights, counted them as 0, or "
            "held the bonus. Each employee concerned is flagged in <code>orbit explain</code> and in HR's export "
            f"(<code>missing_data</code>).</p>{body}</section>")


def _share(part: Decimal, total: Decimal) -> str:
    return f"{part / total:.1%}" if total else "n/a"


# --------------------------------------------------------------------------- page
_CSS = """
*{box-sizing:border-box} body{margin:0;background:#f4f6f9;color:#1d2733;font:15px/1.5 %(font)s}
main{max-width:1180px;margin:0 auto;padding:28px 24px 40px}
header{background:#1f4e79;color:#fff;border-radius:10px;padding:22px 26px;margin-bottom:20px}
header h1{margin:0 0 4px;font-size:26px} header p{margin:0;opacity:.9} header p.dates{font-size:17px;opacity:1}
ul.status{list-style:none;margin:10px 0;padding:0;display:flex;flex-wrap:wrap;gap:8px}
ul.status li{border-radius:14px;padding:3px 12px;font-size:13px;font-weight:600;background:rgba(255,255,255,.18)}
ul.status li.closed{background:#2e7d32} ul.status li.open{background:#3d6fa0}
ul.status li.pending{background:#e8803a} ul.status li.partial{background:#c62828}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:14px 0 0;font-size:13px}
dl.meta dt{opacity:.75} dl.meta dd{margin:0;word-break:break-all} code{font-size:12px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-bottom:20px}
.kpi{background:#fff;border-radius:10px;padding:14px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.kpi b{display:block;font-size:22px;color:#1f4e79;white-space:nowrap} .kpi span{font-size:13px;color:#5a6878}
section{background:#fff;border-radius:10px;padding:18px 22px;margin-bottom:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{margin:0 0 4px;font-size:19px} section p.why{margin:0 0 10px;color:#5a6878;font-size:14px}
p.empty{color:#5a6878;font-style:italic}
table{border-collapse:collapse;width:100%%;font-size:14px} th,td{padding:6px 10px;border-bottom:1px solid #e3e8ee}
th{text-align:left;color:#5a6878;font-weight:600} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
ul.orphans{margin:8px 0 0;font-size:14px;color:#5a6878}
footer{color:#5a6878;font-size:12px;text-align:center}
""" % {"font": FONT}


def _chart_html(chart: Chart) -> str:
    if chart.figure is None:
        body = f'<p class="empty">{html.escape(chart.empty)}</p>'
    else:
        body = pio.to_html(chart.figure, include_plotlyjs=False, full_html=False, div_id=chart.div_id,
                           config=PLOTLY_CONFIG)
    return (f'<section><h2>{html.escape(chart.title)}</h2><p class="why">{html.escape(chart.explanation)}</p>'
            f"{body}{chart.after}</section>")


def _department_table(data: ReportData) -> str:
    head = ("<tr><th>department</th><th class=n>employees</th><th class=n>mean composite</th>"
            "<th class=n>median composite</th><th class=n>incomplete rows</th>"
            f"<th class=n>credited amount{f' ({html.escape(data.currency)})' if data.currency else ''}</th>"
            "<th class=n>share of credit</th></tr>")
    rows = "".join(
        f"<tr><td>{html.escape(r['department'])}</td><td class=n>{r['employees']:,}</td>"
        f"<td class=n>{_number(r['mean_composite'])}</td><td class=n>{_number(r['median_composite'])}</td>"
        f"<td class=n>{r['incomplete_rows']:,}</td><td class=n>{r['credit']:,.2f}</td>"
        f"<td class=n>{r['share']:.1%}</td></tr>"
        for r in data.departments.iter_rows(named=True))
    return ("<section><h2>Departments</h2><p class=\"why\">Employees evaluated, their composite scores, rows "
            "flagged incomplete (a metric without actual or target was left out and the weights renormalised), "
            f"and the won amount credited to the department.</p><table>{head}{rows}</table></section>")


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _orphans_html(orphans: pl.DataFrame) -> str:
    if orphans.height == 0:
        return ""
    items = "".join(f"<li>{html.escape(r['dataset'])}: {r['rows']:,} rows with {html.escape(r['check'])}</li>"
                    for r in orphans.iter_rows(named=True))
    return ('<p class="why">Kept, but referring to something not (yet) delivered — found at evaluation:</p>'
            f'<ul class="orphans">{items}</ul>')


def render_report(data: ReportData) -> str:
    """The whole page as one string: plotly.js inline once, one div per chart."""
    other, total = data.cross_area
    employees = data.composites.height
    mean = data.composites["composite"].mean() if employees else None
    kpis = [(f"{employees:,}", "employees evaluated"), (_number(mean), "mean composite score"),
            (_money(total, data.currency), "won amount credited"),
            (_share(other, total), "of the credit earned outside sales")]
    meta = [("Plan version", ", ".join(data.plan_versions)),
            ("Run", ", ".join(data.run_ids)),
            ("Snapshot", f"{data.snapshot} (published {data.published_at:%Y-%m-%d %H:%M:%S} UTC)")]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Orbit report {html.escape(data.period)}</title>",
        f"<style>{_CSS}</style>",
        f"<script>{get_plotlyjs()}</script>",
        "</head><body><main>",
        f"<header><h1>Orbit report — {html.escape(data.period)}</h1>"
        + (f'<p class="dates">{shape.day_text(data.start)} – {shape.day_text(data.end)}</p>'
           if data.start and data.end else "")
        + '<ul class="status">' + "".join(f'<li class="{c}">{html.escape(w)}</li>' for c, w in data.status)
        + "</ul>"
        "<p>How every department contributed to the period's commercial results.</p><dl class=\"meta\">"
        + "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in meta) + "</dl></header>",
        '<div class="kpis">' + "".join(f'<div class="kpi"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
                                       for v, k in kpis) + "</div>",
        *(_chart_html(c) for c in build_charts(data)),
        _department_table(data),
        _missing_html(data),
        "<footer>Made by <code>orbit report</code> from the published analyst snapshot only: no names and no "
        "per-person money.</footer>",
        "</main></body></html>",
        "",
    ])


def write_report(snapshot: Path, period: str, out: Path, plans: PlanSet | None = None) -> Path:
    """Render the report of ``period`` (labels from ``plans``) and write it to ``out`` atomically. Returns the
    path written."""
    page = render_report(read_report_data(snapshot, period, plans))
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote report %s (%d bytes)", out, len(page))
    return out
