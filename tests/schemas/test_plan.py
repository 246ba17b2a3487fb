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
