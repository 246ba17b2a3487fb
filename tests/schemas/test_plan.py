from decimal import Decimal
from pathlib import Path

import pytest

from schemas.plan import PlanError, PlanSet, load_plan
from warehouse.home import DEFAULT_PLAN

TEXT = DEFAULT_PLAN.read_text()


def _write(tmp_path: Path, text: str, name="plan.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_default_plan_loads_and_covers_every_department():
    plan = load_plan(DEFAULT_PLAN)
    assert set(plan.weights) == set(plan.departments)
    assert len(plan.departments) >= 9
    assert all(m.target is not None for m in plan.metrics.values())
    assert plan.weight_row("logistics", "driver")["referrals"] == Decimal("0.2")
    assert plan.weight_row("logistics", "coordinator")["referrals"] == Decimal("0.1")


@pytest.mark.parametrize(
    "old,new,field",
    [
        ("sales:            {closing_index: 0.5,", "sales:            {closing_index: 0.4,", "weights.sales"),
        ("{closing_index: 0.5, contribution: 0.3", "{closing_idx: 0.5, contribution: 0.3", "weights.sales.closing_idx"),
        ("kind: prospecting_index", "kind: prospects", "metrics.prospecting.kind"),
        ("timezone: America/Bogota", "timezone: Mars/Olympus", "timezone"),
        ("[1.0, 1.0], [1.5, 2.0]", "[1.5, 2.0], [1.0, 1.0]", "payout_curve"),
        ("achievement_cap: 1.5", "achievement_cap: -1", "achievement_cap"),
    ],
)
def test_broken_plan_names_file_line_and_field(tmp_path, old, new, field):
    assert old in TEXT
    path = _write(tmp_path, TEXT.replace(old, new, 1))
    with pytest.raises(PlanError) as err:
        load_plan(path)
    msg = str(err.value)
    line = next(i for i, l in enumerate(TEXT.replace(old, new, 1).splitlines(), 1) if new in l)
    assert f"{path}:" in msg and f": {field}:" in msg
    if field.startswith("weights") or field in ("timezone", "achievement_cap"):
        assert f"{path}:{line}:" in msg


def test_invalid_yaml_reports_line(tmp_path):
    path = _write(tmp_path, "name: x\nversion: [unclosed\n")
    with pytest.raises(PlanError, match=r"plan.yaml:\d+: not valid YAML"):
        load_plan(path)


def test_plan_folder_picks_plan_in_force(tmp_path):
    _write(tmp_path, TEXT, "a.yaml")
    _write(tmp_path, TEXT.replace('version: "2026.1"', 'version: "2026.2"').replace(
        "effective_from: 2024-01-01", "effective_from: 2026-07-01"), "b.yaml")
    import datetime as dt

    plans = PlanSet.load(tmp_path)
    assert plans.for_period_start(dt.date(2026, 4, 1)).version == "2026.1"
    assert plans.for_period_start(dt.date(2026, 7, 1)).version == "2026.2"
    assert plans.for_period_start(dt.date(2023, 1, 1)) is None


def test_plan_folder_must_share_timezone(tmp_path):
    _write(tmp_path, TEXT, "a.yaml")
    _write(tmp_path, TEXT.replace("America/Bogota", "Europe/Madrid").replace(
        "effective_from: 2024-01-01", "effective_from: 2026-07-01"), "b.yaml")
    with pytest.raises(PlanError, match="timezone"):
        PlanSet.load(tmp_path)


# ---- words for people: labels and descriptions ------------------------------------------

_MINIMAL = """\
name: p
version: "1"
effective_from: 2026-01-01
timezone: UTC
period: month
currency: EUR
achievement_cap: 1.5
{departments}
metrics:
  days_to_invoice: {{kind: measurement, metric: days_to_invoice, direction: lower, target: 2{extra}}}
  referrals: {{kind: activity_count, activity_types: [lead_referred], target: 3}}
weights:
  customer_service: {{days_to_invoice: 0.5, referrals: 0.5}}
  hr: {{referrals: 1}}
payout_curve: [[0, 0], [1, 1]]
"""


def _minimal(tmp_path: Path, departments: str = "departments: [customer_service, hr]", extra: str = "") -> Path:
    return _write(tmp_path, _MINIMAL.format(departments=departments, extra=extra))


def test_old_plans_without_labels_get_readable_defaults(tmp_path):
    plan = load_plan(_minimal(tmp_path))
    assert plan.departments == ("customer_service", "hr")
    assert plan.metric_label("days_to_invoice") == "Days to invoice"
    assert plan.metric_label("days_to_invoice", "es") == "Days to invoice"
    assert plan.metric_description("days_to_invoice") is None
    assert plan.department_label("customer_service") == "Customer service"
    assert plan.department_label("hr") == "HR"
    assert plan.department_description("hr") is None


def test_departments_mapping_keeps_order_and_texts_fall_back(tmp_path):
    depts = (
        "departments:\n"
        "  hr: {label: {en: People, es: Personas}, description: Hires people.}\n"
        "  customer_service:\n"
    )
    extra = ", label: {es: Días hasta facturar, nl: Dagen tot facturatie}, description: Days from delivery to invoice."
    plan = load_plan(_minimal(tmp_path, depts, extra))
    assert plan.departments == ("hr", "customer_service")  # the mapping's order, ids only
    assert plan.department_label("hr", "es") == "Personas"
    assert plan.department_label("hr", "nl") == "People"  # no nl: English
    assert plan.department_label("hr") == "People"
    assert plan.department_description("hr", "nl") == "Hires people."  # one text for every language
    assert plan.department_label("customer_service", "es") == "Customer service"  # no label: the id made readable
    assert plan.metric_label("days_to_invoice", "nl") == "Dagen tot facturatie"
    assert plan.metric_label("days_to_invoice", "en") == "Días hasta facturar"  # no en: the first given
    assert plan.metric_description("days_to_invoice", "es") == "Days from delivery to invoice."
    assert plan.metric_label("referrals", "es") == "Referrals"


@pytest.mark.parametrize(
    "departments,extra,field",
    [
        ("departments: [customer_service, hr]", ", label: {de: Tage}", "metrics.days_to_invoice.label"),
        ("departments: [customer_service, hr]", ", description: '  '", "metrics.days_to_invoice.description"),
        ("departments:\n  customer_service: {label: Service}\n  hr: {title: People}", "", "departments.hr.title"),
        ("departments:\n  customer_service: {label: Service}\n  hr: {label: {en: ''}}", "", "departments.hr.label"),
        ("departments:\n  customer_service: {}\n  Hr: {}", "", "departments"),
        ("departments: [customer_service, hr]\ndepartment_texts: {hr: {label: People}}", "", "department_texts"),
    ],
)
def test_bad_labels_name_file_line_and_field(tmp_path, departments, extra, field):
    path = _minimal(tmp_path, departments, extra)
    with pytest.raises(PlanError) as err:
        load_plan(path)
    msg = str(err.value)
    assert f"{path}:" in msg and f": {field}" in msg, msg
    text = path.read_text().splitlines()
    if field.startswith("departments."):  # the line of the department's entry
        assert f"{path}:{next(i for i, l in enumerate(text, 1) if l.startswith('  hr:'))}:" in msg, msg
    if field.startswith("metrics."):
        assert f"{path}:{next(i for i, l in enumerate(text, 1) if 'days_to_invoice:' in l)}:" in msg, msg


def test_default_plan_labels_every_metric_and_department_in_three_languages():
    plan = load_plan(DEFAULT_PLAN)
    for lang in ("en", "es", "nl"):
        for name, metric in plan.metrics.items():
            assert isinstance(metric.label, dict) and metric.label.get(lang), (name, lang)
            assert isinstance(metric.description, dict) and metric.description[lang].endswith("."), (name, lang)
        for dept in plan.departments:
            texts = plan.department_texts[dept]
            assert isinstance(texts.label, dict) and texts.label.get(lang), (dept, lang)
            assert isinstance(texts.description, dict) and texts.description[lang].endswith("."), (dept, lang)
    assert plan.metric_label("days_to_invoice", "es") == "Días hasta facturar"
    assert plan.department_label("customer_service") == "Customer service"
    assert plan.department_label("customer_service", "nl") == "Klantenservice"
