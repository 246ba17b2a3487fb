"""Statements of the golden organisation (tests/transforms/test_golden.py), stored in a real warehouse:
every figure equals the hand-computed values, ``evaluation_matrix`` and HR's export; no statement holds another
person's name or money; en/es/nl wording and locale formats; complete catalogs; draft marking; the PDF's text
layer. The CLI tests (files, modes, audit, byte-identical repeat, export cross-check) run the real flow."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import stat
import subprocess
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from orbit.cli import app
from orbit.i18n import LOCALE_DIR, Formatter
from orbit.statements import render_html, statement_view
from tests.golden_warehouse import build_golden_warehouse
from tests.transforms.test_golden import EMPLOYEES, EXPECTED, EXPECTED_CREDITS, PLAN_DICT
from transforms.export import round_exact
from warehouse.db import open_warehouse, query_frame
from warehouse.home import Home
from warehouse.statements import load_statements, statement_file_name

PERIOD = "2026-Q3"
NAMES = {e["employee_id"]: e["full_name"] for e in EMPLOYEES}
runner = CliRunner()


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    root = tmp_path_factory.mktemp("statements") / "home"
    home = Home(root).ensure()
    build_golden_warehouse(home.warehouse)
    plan_file = root / "golden.yaml"
    plan_file.write_text(yaml.safe_dump(PLAN_DICT, sort_keys=False))
    from schemas.plan import PlanSet

    plans = PlanSet.load(plan_file)
    with open_warehouse(home.warehouse, read_only=True) as con:
        _, statements = load_statements(con, plans, PERIOD, employees=None, draft=False)
        matrix = query_frame(con, "SELECT * FROM evaluation_matrix WHERE period = ?", [PERIOD])
        lines = query_frame(con, "SELECT * FROM bonus_lines WHERE period = ?", [PERIOD])
    return {"home": home, "plan_file": plan_file, "plans": plans, "statements": {s.employee_id: s for s in statements},
            "matrix": matrix, "lines": lines}


# --------------------------------------------------------------------------- the model
def test_every_figure_equals_the_hand_computed_org_and_the_matrix(golden) -> None:
    statements = golden["statements"]
    assert sorted(statements) == sorted(EXPECTED)
    rows = {(r["employee_id"], r["metric"]): r for r in golden["matrix"].iter_rows(named=True)}
    for eid, (dept, composite, multiplier, bonus, fte_days, incomplete) in EXPECTED.items():
        s = statements[eid]
        assert (s.department, s.composite, s.multiplier, s.bonus.amount) == (dept, composite, multiplier, bonus), eid
        assert s.bonus.fte_days == Fraction(fte_days) and s.incomplete is incomplete
        assert len(s.metrics) == len([k for k in rows if k[0] == eid])
        for m in s.metrics:
            r = rows[(eid, m.metric)]
            assert m.actual == (Fraction(r["actual_exact"]) if r["actual_exact"] else None)
            assert m.achievement == (Fraction(r["achievement_exact"]) if r["achievement_exact"] else None)
            assert m.target == (Fraction(r["target"]) if r["target"] is not None else None)
            assert m.weight == Fraction(r["weight"]) and m.included is r["included"] and m.reason == r["reason"]
            assert m.effective_weight == Fraction(r["effective_weight_exact"])
            assert m.weighted_score == (Fraction(r["weighted_score_exact"]) if r["weighted_score_exact"] else None)
        assert sum(m.weighted_score for m in s.metrics if m.included) == s.composite
        credits = {o.opportunity_id: (o.department, o.credit) for o in s.opportunities}
        assert credits == {o: v for (o, e), v in EXPECTED_CREDITS.items() if e == eid}, eid


def test_the_statement_explains_what_the_golden_org_exercises(golden) -> None:
    st = golden["statements"]
    # capped: S02 closing 1/1 against 0.5 -> 2 -> 1.5; L02 referrals 3/2 is exactly the cap (not clipped)
    assert [m.metric for m in st["S02"].metrics if m.capped] == ["closing_index"]
    assert not any(m.capped for m in st["L02"].metrics)
    # F01: a lower metric with actual 0 gives the cap: clipped
    assert [m.metric for m in st["F01"].metrics if m.capped] == ["days_to_invoice"]
    # fte shown: S03 0.5 x 92 days; S02 joined 08-01: 1 x 61 days; F03's fte changed: no single fte
    assert (st["S03"].bonus.fte, st["S03"].bonus.days_employed) == (Fraction(1, 2), 92)
    assert (st["S02"].bonus.fte, st["S02"].bonus.days_employed) == (1, 61)
    assert (st["F03"].bonus.fte, st["F03"].bonus.days_employed, st["F03"].bonus.fte_days) == (None, 92, Fraction(123, 2))
    # M03: handoffs left out (no target), the other weights renormalised 0.3/0.5 and 0.2/0.5
    m03 = {m.metric: m for m in st["M03"].metrics}
    assert m03["handoffs"].included is False and m03["handoffs"].reason == "no_target"
    assert (m03["contribution"].effective_weight, m03["company_revenue"].effective_weight) == (Fraction(3, 5),
                                                                                               Fraction(2, 5))
    # the company won 22,000.00 against 20,000; S03's O5 was untouched: credited as its owner
    assert st["S03"].company.won_revenue == Decimal("22000.00") and st["S03"].company.achievement == Fraction(11, 10)
    assert {o.opportunity_id: o.touch_types for o in st["S03"].opportunities} == {"O5": (), "O3": ("meeting_held",)}
    # O1's touches by S01: first contact and a meeting (the call after closing is not a touch)
    assert [o.touch_types for o in st["S01"].opportunities] == [("first_contact", "meeting_held")]
    # levers: reaching a target adds effective weight x (1 - achievement)
    (top, *_rest) = st["M03"].levers
    assert (top.metric, top.composite_gain) == ("contribution", Fraction(3, 5))
    # logistics has 3 people: its median composite is L01's 446/475 (between 761/950 and 523/475)
    assert st["L01"].department_aggregate.median_composite == Fraction(446, 475)


# --------------------------------------------------------------------------- what people read
MONEY_EN = re.compile(r"€-?[\d,]+\.\d\d")


def _money_allowed(s) -> set[Decimal]:
    """Money a statement may show: its own, its opportunities', the company's and its department's totals."""
    allowed = {s.bonus.amount, s.bonus.bonus_target, s.contribution_total, s.company.won_revenue,
               s.department_aggregate.credit}
    allowed |= {Decimal(s.company.target.numerator) / s.company.target.denominator} if s.company.target else set()
    allowed |= {o.credit for o in s.opportunities} | {o.amount for o in s.opportunities}
    allowed |= {t.bonus_amount for t in s.trend}
    m_allowed = {m.actual for m in s.metrics if m.kind in ("commercial_contribution", "company_revenue")}
    m_allowed |= {m.target for m in s.metrics if m.kind in ("commercial_contribution", "company_revenue")}
    allowed |= {Decimal(f.numerator) / f.denominator for f in m_allowed if f is not None}
    return {a.quantize(Decimal("0.01")) for a in allowed if a is not None}


def test_no_statement_holds_another_persons_name_or_money(golden) -> None:
    for eid, s in golden["statements"].items():
        page = render_html(s, golden["plans"].base, "en")
        assert NAMES[eid] in page
        for other, name in NAMES.items():
            if other != eid:
                assert name not in page, f"{eid}'s statement names {other}"
                assert f">{other}<" not in page and f"· {other}" not in page, f"{eid}'s statement shows {other}'s id"
        shown = {Decimal(m.replace("€", "").replace(",", "")) for m in MONEY_EN.findall(page)}
        assert shown, eid
        assert shown <= _money_allowed(s), f"{eid} shows money that is not theirs: {shown - _money_allowed(s)}"


def test_rendered_figures_equal_the_export_shaping(golden) -> None:
    """The HTML shows composite, multiplier and bonus with the values HR's export rounds from."""
    for line in golden["lines"].iter_rows(named=True):
        s = golden["statements"][line["employee_id"]]
        view = statement_view(s, golden["plans"].base, "en")
        page = render_html(s, golden["plans"].base, "en")
        assert Decimal(view["composite"].replace(",", "")) == Decimal(round_exact(line["composite_exact"]))
        assert Decimal(view["multiplier"].replace(",", "")) == Decimal(round_exact(line["multiplier_exact"]))
        assert view["bonus_amount"] == f"€{line['bonus_amount']:,.2f}"
        for text in (view["composite"], view["multiplier"], view["bonus_amount"]):
            assert text in page


@pytest.mark.parametrize(("lang", "bonus", "composite", "words"), [
    ("en", "€536.67", "1.036667", ["Statement for 2026-Q3", "July 1, 2026", "Your bonus for the period"]),
    ("es", "536,67\xa0€", "1,036667", ["Extracto de 2026-Q3", "1 de julio de 2026", "Tu bono del periodo"]),
    ("nl", "€\xa0536,67", "1,036667", ["Overzicht over 2026-Q3", "1 juli 2026", "Jouw bonus over de periode"]),
])
def test_language_and_locale_formats(golden, lang, bonus, composite, words) -> None:
    s = golden["statements"]["S03"]
    page = render_html(s, golden["plans"].base, lang)
    assert f'<html lang="{lang}">' in page
    assert bonus in page and composite in page
    for w in words:
        assert w in page, w


def test_thousands_in_es_and_nl() -> None:
    assert Formatter("es", "EUR").money(Decimal("1234.56")) == "1.234,56\xa0€"
    assert Formatter("nl", "EUR").money(Decimal("1234.56")) == "€\xa01.234,56"
    assert Formatter("en", "EUR").money(Decimal("1234.56")) == "€1,234.56"
    # one rounding: half-up, never Babel's half-even
    assert Formatter("es", "EUR").number(Fraction(1, 8), 2) == "0,13"
    assert Formatter("nl", "EUR").percent(Fraction(1234565, 1000000), 2) == "123,46%"


def test_catalogs_translate_every_message() -> None:
    method_map = [("orbit/statements.py", "python"), ("orbit/templates/**.j2", "jinja2")]
    options = {"orbit/templates/**.j2": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True",
                                         "lstrip_blocks": "True"}}
    root = Path(__file__).resolve().parents[2]
    ids = {m[2] if isinstance(m[2], str) else m[2][0]
           for m in extract_from_dir(root, method_map, options, keywords={"N_": None, "_": None, "gettext": None,
                                                                          "ngettext": (1, 2)})}
    assert len(ids) > 60
    for lang in ("es", "nl"):
        with (LOCALE_DIR / lang / "LC_MESSAGES" / "orbit.po").open("rb") as fh:
            catalog = read_po(fh)
        for msgid in ids:
            message = catalog.get(msgid)
            assert message is not None and message.string, f"{lang}: {msgid!r} is not translated"
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in strings:  # same placeholders, and every literal % doubled (newstyle gettext formats)
                assert sorted(re.findall(r"%\((\w+)\)s", text)) == sorted(set(re.findall(r"%\((\w+)\)s", msgid))) \
                    or "num" in msgid, (lang, msgid)
                assert "%" not in re.sub(r"%\(\w+\)s|%%", "", text), (lang, text)


def test_draft_marks_the_page(golden) -> None:
    from dataclasses import replace

    s = replace(golden["statements"]["S01"], draft=True, status_words=("open", "draft"))
    page = render_html(s, golden["plans"].base, "es")
    assert 'class="watermark"' in page and "BORRADOR" in page and "el periodo no está cerrado" in page
    assert "watermark" not in render_html(golden["statements"]["S01"], golden["plans"].base, "es").split("<body>")[1]


def test_file_names_are_the_ids_and_never_leave_the_folder() -> None:
    assert statement_file_name("E00042", "html") == "E00042.html"
    assert statement_file_name("Ana María Pérez", "pdf") == "Ana María Pérez.pdf"
    assert statement_file_name("../etc/passwd", "html") == "%2E.%2Fetc%2Fpasswd.html"
    assert "/" not in statement_file_name("a/b\\c", "html")


def test_pdf_text_layer_holds_the_figures(golden, tmp_path) -> None:
    from orbit.pdf import html_to_pdf

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.fail("pdftotext is missing: `make pdf-tools` (run by `make test`) installs Debian's poppler-utils")
    s = golden["statements"]["S02"]
    pdf = html_to_pdf(render_html(s, golden["plans"].base, "es").encode())
    assert pdf.startswith(b"%PDF-")
    assert pdf == html_to_pdf(render_html(s, golden["plans"].base, "es").encode()), "PDF bytes differ on repeat"
    text = subprocess.run([pdftotext, "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    view = statement_view(s, golden["plans"].base, "es")
    for figure in (view["bonus_amount"], view["composite"], view["multiplier"], view["bonus_target"],
                   NAMES["S02"], "Extracto de 2026-Q3", "con tope en 150"):
        assert figure.replace("\xa0", " ") in text.replace("\xa0", " "), figure


# --------------------------------------------------------------------------- the verb, end to end
def _invoke(golden, *args: str):
    return runner.invoke(app, ["statements", "--period", PERIOD, "--plan", str(golden["plan_file"]), *args],
                         env={"ORBIT_HOME": str(golden["home"].root)})


@pytest.mark.slow  # the Prefect harness and two batches (~15 s)
def test_statements_verb_files_audit_and_byte_identical_repeat(prefect_harness, golden) -> None:
    home = golden["home"]
    first = _invoke(golden, "--lang", "es")
    assert first.exit_code == 0, first.output
    folder = home.exports / "statements" / PERIOD
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == sorted(f"{e}.html" for e in EXPECTED)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((home.exports / "statements").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    before = {f.name: f.read_bytes() for f in files}
    again = _invoke(golden, "--lang", "es")
    assert again.exit_code == 0, again.output
    assert {f.name: f.read_bytes() for f in sorted(folder.iterdir())} == before, "a repeat changed the bytes"

    with open_warehouse(home.warehouse, read_only=True) as con:
        rows = query_frame(con, "SELECT * FROM audit_log WHERE action = 'statements' ORDER BY seq").to_dicts()
        from warehouse.audit import verify_audit

        assert verify_audit(con) == []
    assert len(rows) == 2
    for row in rows:
        manifest = row["detail"].split("\n", 1)[1]
        listed = dict(line.split("  ")[::-1] for line in manifest.splitlines())
        assert listed == {name: hashlib.sha256(data).hexdigest() for name, data in before.items()}
        assert row["output_sha256"] == hashlib.sha256(manifest.encode()).hexdigest()
        assert row["period"] == PERIOD and "language es" in row["detail"]

    # the statements' figures are HR's export's figures
    exported = runner.invoke(app, ["export", "bonus", "--period", PERIOD, "--out", str(home.root / "bonus.csv")],
                             env={"ORBIT_HOME": str(home.root)})
    assert exported.exit_code == 0, exported.output
    for row in csv.DictReader(io.StringIO((home.root / "bonus.csv").read_text())):
        page = before[f"{row['employee_id']}.html"].decode()
        es = Formatter("es", "EUR")
        assert es.money(Decimal(row["bonus_amount"])) in page
        assert es.number(Fraction(row["composite"])) in page and es.number(Fraction(row["payout_multiplier"])) in page
        assert row["full_name"] in page


@pytest.mark.slow
def test_statements_verb_one_employee_pdf_and_refusals(prefect_harness, golden) -> None:
    home = golden["home"]
    result = _invoke(golden, "--employee", "S03", "--format", "pdf")
    assert result.exit_code == 0, result.output
    pdf = home.exports / "statements" / PERIOD / "S03.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-") and stat.S_IMODE(pdf.stat().st_mode) == 0o600
    unknown = _invoke(golden, "--employee", "NOPE")
    assert unknown.exit_code == 2 and "NOPE" in unknown.output
    assert _invoke(golden, "--lang", "fr").exit_code == 2
    assert _invoke(golden, "--format", "docx").exit_code == 2
    help_text = runner.invoke(app, ["statements", "--help"])
    assert help_text.exit_code == 0 and "--draft" in help_text.output


def test_an_open_period_needs_draft(tmp_path) -> None:
    home = Home(tmp_path / "home").ensure()
    build_golden_warehouse(home.warehouse, close=False)
    plan_file = tmp_path / "golden.yaml"
    plan_file.write_text(yaml.safe_dump(PLAN_DICT, sort_keys=False))
    refused = runner.invoke(app, ["statements", "--period", PERIOD, "--plan", str(plan_file)],
                            env={"ORBIT_HOME": str(home.root)})
    assert refused.exit_code == 2 and "--draft" in refused.output
    assert not (home.exports / "statements").exists()


@pytest.mark.parametrize("lang", ["en", "es", "nl"])
def test_messages_translated_at_compile_time_render_as_jinja_would(golden, lang) -> None:
    """Constant messages are translated once per template (speed); the pages equal Jinja's own i18n rendering."""
    import jinja2

    from orbit.i18n import translations
    from orbit.statements import TEMPLATES, render_many

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.install_gettext_translations(translations(lang), newstyle=True)
    template = env.get_template("statement.html.j2")
    statements = sorted(golden["statements"].values(), key=lambda s: s.employee_id)
    plan = golden["plans"].base
    expected = [template.render(v=statement_view(s, plan, lang)).encode() for s in statements]
    assert [page for _, page in render_many(statements, plan, lang)] == expected


@pytest.mark.slow  # spawns two processes
def test_a_pool_of_processes_renders_the_same_bytes(golden) -> None:
    from orbit.statements import POOL_FROM, render_many

    statements = sorted(golden["statements"].values(), key=lambda s: s.employee_id) * 40
    assert len(statements) >= POOL_FROM
    plan = golden["plans"].base
    one = render_many(statements, plan, "nl", workers=1)
    assert render_many(statements, plan, "nl", workers=2) == one


@pytest.mark.slow  # two headless Chromium runs
@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_statement_renders_in_headless_chromium(golden, tmp_path, lang) -> None:
    """The page opens offline in a real browser: its chart is drawn and the screenshot is a full page."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Chromium is not installed: `make browser` (run by `make test`) installs Debian's chromium")
    page = tmp_path / f"S02_{lang}.html"
    page.write_text(render_html(golden["statements"]["S02"], golden["plans"].base, lang), encoding="utf-8")
    common = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
              "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
              "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180,
                         check=True).stdout
    assert dom.count("<svg") == 2 and "<circle" in dom and "<polyline" in dom
    assert NAMES["S02"] in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*common, "--hide-scrollbars", "--window-size=860,2000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=180, check=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000  # a blank page compresses to a few KB


def test_every_page_of_a_draft_pdf_says_draft(golden) -> None:
    from dataclasses import replace

    from orbit.pdf import html_to_pdf

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.fail("pdftotext is missing: `make pdf-tools` (run by `make test`) installs Debian's poppler-utils")
    s = replace(golden["statements"]["S02"], draft=True, status_words=("open", "draft"))
    pdf = html_to_pdf(render_html(s, golden["plans"].base, "nl").encode())
    text = subprocess.run([pdftotext, "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    pages = text.split("\f")[:-1]  # pdftotext ends every page with a form feed
    assert len(pages) >= 2
    assert all("CONCEPT" in page for page in pages), [i for i, p in enumerate(pages) if "CONCEPT" not in p]
    final = html_to_pdf(render_html(golden["statements"]["S02"], golden["plans"].base, "nl").encode())
    assert "CONCEPT" not in subprocess.run([pdftotext, "-", "-"], input=final, capture_output=True,
                                           check=True).stdout.decode()
