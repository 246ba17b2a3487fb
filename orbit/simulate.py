"""`orbit simulate`: a draft plan against the plan in force, on the loaded data, writing nothing Orbit owns.

The inputs are read from the warehouse in one short read-only connection (see
:mod:`warehouse.readonly`: no writer slot, no lock held while computing); each period is evaluated
twice by the evaluation engine (:func:`transforms.evaluation.evaluate_period`), once with the plan in
force for it and once with the draft, and the two are compared (:mod:`transforms.simulation`). Nothing
goes to the marts, the snapshot, the exports or the audit log: the comparison is written as CSV files and
one self-contained HTML page in a folder of its own (owner-only: it holds names and bonuses).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from schemas.plan import Plan, PlanSet, load_plan
from transforms.evaluation import EVALUATION_COLUMNS, evaluate_period
from transforms.periods import parse_period
from transforms.simulation import (
    compare_employees,
    complete_periods,
    cost_change_share,
    frozen_differences,
    multiplier_distribution,
    summarise,
)
from warehouse.home import Home
from warehouse.private_files import write_private_csv, write_private_text
from warehouse.readonly import read_inputs

log = logging.getLogger(__name__)
DEFAULT_PERIODS = 4


class SimulationError(Exception):
    """The simulation cannot run as asked (bad draft, period or data): exit 2 with the message."""


@dataclass
class Simulation:
    draft: Plan
    draft_path: Path
    in_force: dict[str, Plan]  # period -> the plan in force for it
    periods: list[str]
    employees: pl.DataFrame
    departments: pl.DataFrame
    by_period: pl.DataFrame
    total: pl.DataFrame
    distribution: pl.DataFrame  # multiplier bands, everyone
    department_distribution: pl.DataFrame  # multiplier bands per department
    notes: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.draft.currency

    def department_label(self, dept: str | None) -> str:
        """The department's label in the plan in force (of the latest period compared), else the draft's."""
        if dept is None:
            return ""
        for plan in (self.in_force[self.periods[-1]], self.draft):
            if dept in plan.departments:
                return plan.department_label(dept)
        return self.draft.department_label(dept)


def simulate(home: Home, plans: PlanSet, draft_path: Path, periods: list[str] | None = None, *,
             today: dt.date | None = None, wait_seconds: float = 120.0) -> Simulation:
    """Evaluate ``draft_path`` and the plans in force on the loaded data for ``periods`` (default: the last
    four complete periods) and compare them. Reads the warehouse read-only; writes nothing."""
    draft = load_plan(draft_path)  # PlanError names file, line and field
    base = plans.base
    for attr, what in (("period", "period kind"), ("timezone", "timezone"), ("currency", "currency")):
        if getattr(draft, attr) != getattr(base, attr):
            raise SimulationError(f"{draft_path}: the draft's {what} is {getattr(draft, attr)!r}, the plan in force's "
                                  f"{getattr(base, attr)!r}; a draft is compared on the same periods and money")
    try:
        frames, as_of, closed = read_inputs(home.warehouse, EVALUATION_COLUMNS, wait_seconds=wait_seconds)
    except FileNotFoundError as e:
        raise SimulationError(str(e)) from None
    if periods:
        wanted = []
        for label in periods:
            try:
                p = parse_period(label)
            except ValueError as e:
                raise SimulationError(str(e)) from None
            if p.kind != base.period:
                raise SimulationError(f"period {p.label} is a {p.kind}; the plan evaluates by {base.period}")
            wanted.append(p)
        wanted = sorted(set(wanted), key=lambda p: p.start)
    else:
        today = today or dt.datetime.now(dt.timezone.utc).astimezone(base.tz).date()
        wanted = complete_periods(frames, base.timezone, base.period, today)[-DEFAULT_PERIODS:]
        if not wanted:
            raise SimulationError("no complete period in the loaded data; name one with --period")
    notes = []
    if draft.effective_from > wanted[0].start:
        notes.append(f"the draft's effective_from ({draft.effective_from}) is ignored: it is evaluated on every "
                     "period compared")
    before, after, in_force = [], [], {}
    for p in wanted:
        plan = plans.for_period_start(p.start)
        if plan is None:
            raise SimulationError(f"no plan in force on {p.start} (period {p.label}); nothing to compare with")
        in_force[p.label] = plan
        log.info("evaluating %s with the plan in force (%s) and the draft (%s)", p.label, plan.version, draft.version)
        before.append(evaluate_period(plan, p, frames, as_of, funnel=False).scores)
        if p.label in closed:
            frozen = closed[p.label]
            moved = frozen_differences(frozen.figures, before[-1])
            notes.append(f"{p.label} is closed (run {frozen.run_id[:12]}); both plans are evaluated on the data "
                         "loaded now" + (f", on which {moved} employee(s)' bonus differs from the frozen one "
                                         "(pending restatement)" if moved else ", which gives the frozen bonuses"))
        after.append(evaluate_period(draft, p, frames, as_of, funnel=False).scores)
    employees = compare_employees(pl.concat(before), pl.concat(after))
    if employees.height == 0:
        raise SimulationError(f"nobody was employed in {', '.join(p.label for p in wanted)}; nothing to compare")
    return Simulation(
        draft=draft, draft_path=draft_path, in_force=in_force, periods=[p.label for p in wanted],
        employees=employees, departments=summarise(employees, ["period", "department"]),
        by_period=summarise(employees, ["period"]), total=summarise(employees, []),
        distribution=multiplier_distribution(employees),
        department_distribution=multiplier_distribution(employees, by_department=True), notes=notes,
    )


# --------------------------------------------------------------------------- output
def default_out(home: Home, sim: Simulation) -> Path:
    span = sim.periods[0] if len(sim.periods) == 1 else f"{sim.periods[0]}_{sim.periods[-1]}"
    return home.root / "simulations" / f"{_slug(sim.draft.name)}_{_slug(sim.draft.version)}_{span}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text)


def write_simulation(sim: Simulation, out: Path) -> dict[str, Path]:
    """The comparison as CSV files and one HTML page in ``out`` (owner-only files)."""
    files = {
        "employees": write_private_csv(out / "employees.csv", sim.employees),
        "departments": write_private_csv(out / "departments.csv", sim.departments),
        "periods": write_private_csv(out / "periods.csv", sim.by_period),
        "multipliers": write_private_csv(out / "multipliers.csv", sim.distribution),
        "department_multipliers": write_private_csv(out / "department_multipliers.csv", sim.department_distribution),
        "page": write_private_text(out / "simulation.html", render_html(sim)),
    }
    return files


def _money(value: Decimal | None, currency: str) -> str:
    return "" if value is None else f"{value:,.2f} {currency}"


def _signed_money(value: Decimal, currency: str) -> str:
    return ("+" if value > 0 else "") + _money(value, currency)


def _pct(share: Decimal | None) -> str:
    return "" if share is None else f"{share * 100:+.2f} %"




def _versions(sim: Simulation) -> str:
    return ", ".join(sorted({p.version for p in sim.in_force.values()}))


def summary_text(sim: Simulation, files: dict[str, Path] | None = None) -> str:
    t = sim.total.row(0, named=True)
    cur = sim.currency
    lines = [
        f"Draft {sim.draft.name} {sim.draft.version} ({sim.draft_path}) against the plan in force "
        f"({_versions(sim)}), {', '.join(sim.periods)}:",
        f"  bonus cost   {_money(t['cost_before'], cur)} -> {_money(t['cost_after'], cur)}   "
        f"change {_signed_money(t['cost_change'], cur)} ({_pct(cost_change_share(sim.total))})",
        f"  employees    {t['gainers']} gain, {t['losers']} lose, {t['unchanged']} unchanged "
        f"(of {t['employees']} employee-periods)",
        "",
        "  by department (all periods)        cost before         cost after             change   gain  lose",
    ]
    for d in summarise(sim.employees, ["department"]).iter_rows(named=True):
        lines.append(f"  {sim.department_label(d['department']):<28} {_money(d['cost_before'], cur):>18} {_money(d['cost_after'], cur):>18}"
                     f" {_signed_money(d['cost_change'], cur):>18} {d['gainers']:>6} {d['losers']:>5}")
    lines += ["", "  payout multipliers      before   after"]
    for b in sim.distribution.iter_rows(named=True):
        lines.append(f"    {b['band']:<18} {b['before']:>9} {b['after']:>7}")
    lines += [f"  note: {n}" for n in sim.notes]
    if files:
        lines += ["", f"  comparison: {files['page']}", f"  CSV:        {files['employees'].parent}/"
                  f"{{{', '.join(p.name for k, p in files.items() if k != 'page')}}}"]
    lines.append("Nothing was written to the warehouse, the snapshot, the exports or the audit log.")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem} p.note{color:#555}
table{border-collapse:collapse;font-size:.9rem} th,td{padding:.25rem .6rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#1a7f37} .down{color:#c62828} .bar{display:inline-block;height:.8rem;vertical-align:middle}
.b{background:#9aa7b4} .a{background:#1f4e79} .big{font-size:1.3rem;font-weight:600}
"""


def _cls(value: Decimal | None) -> str:
    return "" if not value else (" up" if value > 0 else " down")


def render_html(sim: Simulation) -> str:
    """One self-contained page (no script, no network): headline, periods, departments, multiplier bands,
    employees (largest change first). The same simulation gives the same bytes."""
    e = html.escape
    cur = sim.currency
    t = sim.total.row(0, named=True)
    out = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Orbit simulation: {e(sim.draft.name)} {e(sim.draft.version)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Draft plan {e(sim.draft.name)} {e(sim.draft.version)} against the plan in force ({e(_versions(sim))})</h1>",
        f"<p>Periods compared: {e(', '.join(sim.periods))}. Evaluated on the data loaded now; nothing was written "
        "to the warehouse, the snapshot, the exports or the audit log. This page holds names and bonuses: keep it "
        "private.</p>",
        f"<p class=\"big\">Bonus cost {e(_money(t['cost_before'], cur))} &rarr; {e(_money(t['cost_after'], cur))}: "
        f"<span class=\"{_cls(t['cost_change']).strip()}\">{e(_signed_money(t['cost_change'], cur))} "
        f"({e(_pct(cost_change_share(sim.total)))})</span></p>",
        f"<p>{t['gainers']} gain, {t['losers']} lose, {t['unchanged']} unchanged (of {t['employees']} "
        "employee-periods).</p>",
    ]
    out += [f"<p class=\"note\">Note: {e(n)}</p>" for n in sim.notes]
    out.append("<h2>By period</h2>" + _table(
        ["Period", "Employees", "Cost before", "Cost after", "Change", "Gain", "Lose"],
        [[r["period"], r["employees"], _money(r["cost_before"], cur), _money(r["cost_after"], cur),
          (_signed_money(r["cost_change"], cur), r["cost_change"]), r["gainers"], r["losers"]]
         for r in sim.by_period.iter_rows(named=True)]))
    out.append("<h2>By department and period</h2>" + _table(
        ["Period", "Department", "Employees", "Cost before", "Cost after", "Change", "Gain", "Lose"],
        [[r["period"], sim.department_label(r["department"]), r["employees"], _money(r["cost_before"], cur),
          _money(r["cost_after"], cur), (_signed_money(r["cost_change"], cur), r["cost_change"]), r["gainers"],
          r["losers"]] for r in sim.departments.iter_rows(named=True)]))
    top = max([1, *sim.distribution["before"].to_list(), *sim.distribution["after"].to_list()])
    bars = []
    for r in sim.distribution.iter_rows(named=True):
        bars.append([r["band"], r["before"], r["after"],
                     ("<span class=\"bar b\" style=\"width:{:.1f}rem\"></span><br><span class=\"bar a\" "
                      "style=\"width:{:.1f}rem\"></span>").format(20 * r["before"] / top, 20 * r["after"] / top)])
    out.append("<h2>Payout multipliers (employee-periods per band; grey before, blue after)</h2>"
               + _table(["Multiplier", "Before", "After", ""], bars, raw_last=True))
    bands = [label for label in sim.distribution["band"].to_list()]
    cells: dict[str, dict[str, str]] = {}
    for r in sim.department_distribution.iter_rows(named=True):
        cells.setdefault(r["department"], {})[r["band"]] = (
            str(r["before"]) if r["before"] == r["after"] else f"{r['before']} → {r['after']}")
    out.append("<h2>Payout multipliers by department (before → after)</h2>" + _table(
        ["Department", *bands], [[sim.department_label(d), *(row[b] for b in bands)] for d, row in cells.items()]))
    moved = sim.employees.with_columns(pl.col("bonus_change").abs().alias("_abs")).sort(
        ["_abs", "period", "employee_id"], descending=[True, False, False], nulls_last=True)
    out.append("<h2>Employees (largest change first)</h2>" + _table(
        ["Period", "Employee", "Name", "Department", "Composite before", "after", "Multiplier before", "after",
         "Bonus before", "after", "Change", "Missing data (before / after)"],
        [[r["period"], r["employee_id"], r["full_name"] or "", sim.department_label(r["department"]), r["composite_before"],
          r["composite_after"], r["multiplier_before"], r["multiplier_after"], _money(r["bonus_before"], cur),
          _money(r["bonus_after"], cur), (_signed_money(r["bonus_change"] or Decimal(0), cur), r["bonus_change"]),
          f"{r['missing_before'] or '–'} / {r['missing_after'] or '–'}"]
         for r in moved.iter_rows(named=True)]))
    out.append("</body></html>\n")
    return "\n".join(out)


def _table(header: list[str], rows: list[list], raw_last: bool = False) -> str:
    e = html.escape
    parts = ["<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row in rows:
        parts.append("<tr>")
        for i, cell in enumerate(row):
            if raw_last and i == len(row) - 1:
                parts.append(f"<td>{cell}</td>")
            elif isinstance(cell, tuple):  # (text, signed value): coloured by sign
                parts.append(f"<td class=\"n{_cls(cell[1])}\">{e(cell[0])}</td>")
            elif isinstance(cell, (int, Decimal)):
                parts.append(f"<td class=\"n\">{cell}</td>")
            else:
                parts.append(f"<td>{e(str(cell))}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)
