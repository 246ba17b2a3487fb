"""`orbit report` on a small organisation run through the real pipeline, checked in headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import duckdb
import pytest
from typer.testing import CliRunner

from orbit.cli import app
from warehouse.home import Home

END = dt.date(2026, 9, 30)
PERIOD = "2026-Q3"
CHARTS = ["chart-achievement", "chart-contribution", "chart-composites", "chart-gap", "chart-change", "chart-quality",
          "chart-reasons"]
runner = CliRunner()


@pytest.fixture(scope="module")
def pipeline(prefect_harness, default_plans, tmp_path_factory):
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("report") / "home").ensure()
    frames = generate_org(employees=40, months=6, seed=11, end_date=END, plan=default_plans.base, bad_rows=0.02)
    write_org(frames, home.landing, end_date=END)
    run_flow(home, default_plans)
    return home, frames


def _report(home, monkeypatch, *args):
    monkeypatch.setenv("ORBIT_HOME", str(home.root))
    return runner.invoke(app, ["report", *args])


def _body(page: str) -> str:
    """The page without the embedded plotly.js library (whose source is not the report's content)."""
    start = page.index("<script>")
    return page[:start] + page[page.index("</script>", start):]


def _chromium(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """Headless Chromium with every network request sent to a dead proxy: the page must render offline."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Chromium is not installed: the test set-up (`make browser`, run by `make test`) installs "
                    "Debian's `chromium` package; run `apt-get install chromium` and re-run.")
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         "--virtual-time-budget=15000", *args],
        capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.slow  # ~6 s, but it pays the module's pipeline (~20 s with the Prefect harness)
def test_report_renders_every_chart_offline_in_headless_chromium(pipeline, monkeypatch, tmp_path):
    home, _ = pipeline
    result = _report(home, monkeypatch, "--period", PERIOD)
    assert result.exit_code == 0, result.output
    path = home.root / "reports" / f"report_{PERIOD}.html"
    assert f"wrote {path}" in result.output
    page = path.read_text()

    # Self-contained: plotly.js inline once, nothing fetched from elsewhere.
    assert re.findall(r"<script\b[^>]*>", page) == ["<script>"] * (1 + len(CHARTS))
    assert len(re.findall(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=", page)) == 0
    assert page.count("Plotly.newPlot(") == len(CHARTS)
    assert re.findall(r'<div id="(chart-[a-z]+)" class="plotly-graph-div', page) == CHARTS

    dom = _chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path).stdout
    starts = [m.start() for m in re.finditer(r'<div id="chart-', dom)]
    assert len(starts) == len(CHARTS)
    segments = [dom[s:e] for s, e in zip(starts, starts[1:] + [len(dom)])]
    for chart, segment in zip(CHARTS, segments):
        assert segment.startswith(f'<div id="{chart}"')
        assert segment.count('class="main-svg"') >= 1, f"{chart} did not render"
        assert re.search(r'class="(?:trace [a-z]+|hm)"', segment), f"{chart} rendered no data"
    with duckdb.connect(str(home.published), read_only=True) as con:
        employees = con.execute("SELECT count(*) FROM employee_scores WHERE period = ?", [PERIOD]).fetchall()[0][0]
    assert segments[CHARTS.index("chart-composites")].count('class="point"') == employees > 0

    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,2400", path.as_uri(), tmp_path=tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_report_is_deterministic_and_holds_no_names_or_bonus_money(pipeline, monkeypatch, tmp_path):
    home, frames = pipeline
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    assert _report(home, monkeypatch, "--period", PERIOD, "--out", str(first)).exit_code == 0
    assert _report(home, monkeypatch, "--period", PERIOD, "--out", str(second)).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))

    page = first.read_text()
    body = _body(page)
    assert PERIOD in body and "Where the commercial result came from" in body
    for name in frames["employees"]["full_name"].drop_nulls().unique():
        assert name not in page
    for employee_id in frames["employees"]["employee_id"].drop_nulls().unique():
        assert f'"{employee_id}"' not in body and f">{employee_id}<" not in body
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        amounts = [a for (a,) in con.execute(
            "SELECT DISTINCT bonus_amount FROM bonus_lines WHERE period = ? AND bonus_amount > 0", [PERIOD]).fetchall()]
    assert amounts
    for amount in amounts:
        assert f"{amount:,.2f}" not in body and str(amount) not in body


def test_report_opens_with_the_periods_dates_and_status_and_speaks_in_labels(pipeline, monkeypatch, tmp_path):
    home, _ = pipeline
    out = tmp_path / "r.html"
    assert _report(home, monkeypatch, "--period", PERIOD, "--out", str(out)).exit_code == 0
    body = _body(out.read_text())
    header = body[body.index("<header>"):body.index("</header>")]
    assert '<p class="dates">1 July 2026 – 30 September 2026</p>' in header
    assert '<li class="open">Open: its results may still change</li>' in header
    assert "Partial" not in header  # the data covers the whole quarter, which has ended
    # the default plan's labels, never the ids, in the charts and tables
    for label in ("Customer service", "Days to invoice", "On-time delivery", "Company revenue"):
        assert label in body, label
    for ident in ("customer_service", "days_to_invoice", "on_time", "company_revenue"):
        assert ident not in body, ident


def test_report_into_a_folder(pipeline, monkeypatch, tmp_path):
    home, _ = pipeline
    result = _report(home, monkeypatch, "--period", PERIOD, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"report_{PERIOD}.html").exists()


def test_unknown_period_exits_2_listing_the_periods(pipeline, monkeypatch):
    home, _ = pipeline
    result = _report(home, monkeypatch, "--period", "2025-Q1")
    assert result.exit_code == 2
    assert "no results for period 2025-Q1" in result.output and "Periods available: 2026-Q2, 2026-Q3" in result.output
    assert _report(home, monkeypatch, "--period", "2026-Q5").exit_code == 2
    assert not (home.root / "reports" / "report_2025-Q1.html").exists()


def test_nothing_published_exits_2(tmp_path, monkeypatch):
    result = _report(Home(tmp_path / "empty").ensure(), monkeypatch, "--period", PERIOD)
    assert result.exit_code == 2
    assert "nothing published yet" in result.output and "orbit run" in result.output


def test_a_period_without_wins_or_quarantine_gets_notes_instead_of_empty_charts(tmp_path):
    import polars as pl

    from orbit.report import ReportData, render_report
    from transforms import report as shape

    contribution = pl.DataFrame(schema={"period": pl.Utf8, "department": pl.Utf8, "model": pl.Utf8,
                                        "credit": pl.Decimal(38, 2), "opportunities": pl.Int64, "share": pl.Float64})
    scores = pl.DataFrame({"department": ["hr", "hr"], "composite": [0.5, 0.7]})
    by_department = pl.DataFrame({"department": ["hr"], "employees": [2], "mean_composite": [0.6],
                                  "median_composite": [0.6], "incomplete_rows": [0]})
    data = ReportData(
        period="2026-07", snapshot=tmp_path / "analytics.duckdb",
        published_at=dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc), plan_versions=["2026.1"], run_ids=["abc"],
        model=None, currency="EUR",
        achievement=shape.pivot_achievement(pl.DataFrame(
            {"department": ["hr"], "metric": ["time_to_hire"], "mean_achievement": [0.6]})),
        contribution=shape.summarise_contribution(contribution),
        cross_area=shape.measure_cross_area_share(contribution),
        composites=shape.collect_composites(scores),
        departments=shape.tabulate_departments(by_department, contribution),
        quality=shape.summarise_quality(pl.DataFrame(
            {"dataset": ["employees"], "rows_read": [2], "rows_loaded": [2], "rows_quarantined": [0],
             "rows_duplicate": [0], "files_rejected": [0]})),
        reasons=shape.rank_quarantine_reasons(pl.DataFrame(schema={"dataset": pl.Utf8, "reason": pl.Utf8,
                                                                   "rows": pl.Int64})),
        orphans=pl.DataFrame(schema={"check": pl.Utf8, "dataset": pl.Utf8, "rows": pl.Int64}),
    )
    page = render_report(data)
    assert re.findall(r'<div id="(chart-[a-z]+)"', page) == ["chart-achievement", "chart-composites", "chart-quality"]
    assert "No opportunity was won in this period." in page and "No row was quarantined." in page
    assert "<b>n/a</b><span>of the credit earned outside sales</span>" in page and "<b>0.00 EUR</b>" in page
    assert "<tr><td>hr</td><td class=n>2</td><td class=n>0.600</td>" in page  # no plan: ReportData as given
