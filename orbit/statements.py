"""Statements as people read them: one self-contained HTML page (or PDF) per employee and period, in
English, Spanish or Dutch.

The figures come from the statement model (:mod:`transforms.statements`); this module only puts them
into words for a language (gettext catalogs, Babel formats) and draws the payout curve and the trend
as inline SVG. Same statement, same language, same bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path

import jinja2

from orbit.i18n import Formatter, check_language, formatter, translations
from schemas.plan import Plan
from transforms.statements import MONEY_KINDS, SHARE_KINDS, Statement

TEMPLATES = Path(__file__).parent / "templates"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


#: Words for codes stored by the engine (reason codes, activity types, period states), marked for the catalogs.
REASONS = {
    "no_actual": N_("no actual for the period"),
    "no_target": N_("no target for the period"),
    "no_actual_no_target": N_("neither an actual nor a target for the period"),
}
ACTIVITY_TYPES = {
    "lead_handoff": N_("handed the lead over"),
    "first_contact": N_("made the first contact"),
    "lead_referred": N_("referred the lead"),
    "meeting_held": N_("held a meeting"),
    "ticket_resolved": N_("resolved a ticket"),
    "delivery_completed": N_("completed a delivery"),
    "invoice_issued": N_("issued the invoice"),
    "customer_call": N_("called the customer"),
    "training_completed": N_("completed a training"),
}
STATES = {
    "open": N_("open"),
    "closed": N_("closed"),
    "pending_restatement": N_("pending restatement"),
    "partial": N_("partial"),
    "draft": N_("DRAFT"),
}
DIRECTIONS = {"higher": N_("higher is better"), "lower": N_("lower is better")}
TARGET_SOURCES = {"employee": N_("your own target"), "department": N_("your department's target"),
                  "plan": N_("the plan's target")}


def _humanise(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _plan_text(plan: Plan, method: str, name: str, lang: str) -> str | None:
    """A label or description from the plan (per language when the plan gives one), if the plan has it."""
    fn = getattr(plan, method, None)
    if fn is None:
        return None
    try:
        text = fn(name, lang)
    except (KeyError, ValueError):
        return None
    return text or None


def metric_label(plan: Plan, metric: str, lang: str) -> str:
    return _plan_text(plan, "metric_label", metric, lang) or _humanise(metric)


def metric_description(plan: Plan, metric: str, lang: str) -> str | None:
    return _plan_text(plan, "metric_description", metric, lang)


def department_label(plan: Plan, department: str, lang: str) -> str:
    return _plan_text(plan, "department_label", department, lang) or _humanise(department)


_CONSTANT_MESSAGE = re.compile(r'\{\{ _\("((?:[^"\\]|\\.)*)"\) \}\}')


class _TranslatedLoader(jinja2.FileSystemLoader):
    """Templates with each constant message (``{{ _("...") }}`` without variables) translated once, when the
    template is compiled: a batch of thousands of statements then calls gettext only for messages with figures.
    Extraction (``make messages``) reads the untouched template."""

    def __init__(self, lang: str) -> None:
        super().__init__(str(TEMPLATES))
        self.lang = lang

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        gettext = translations(self.lang).gettext

        def translate(m: re.Match) -> str:
            msgid = m.group(1).encode().decode("unicode_escape") if "\\" in m.group(1) else m.group(1)
            text = html.escape(gettext(msgid).replace("%%", "%"), quote=False)
            return text.replace("{", "{{ '{' }}") if "{" in text else text

        return _CONSTANT_MESSAGE.sub(translate, source), filename, uptodate


@cache
def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=_TranslatedLoader(lang), autoescape=True, extensions=["jinja2.ext.i18n"],
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


# --------------------------------------------------------------------------- charts (inline SVG)
def _fmt(v: float) -> str:
    return f"{v:.1f}"


def curve_svg(curve: Sequence[tuple[Fraction, Fraction]], composite: Fraction, multiplier: Fraction,
              fmt: Formatter, *, you: str, x_label: str, y_label: str) -> str:
    """The payout curve (composite -> multiplier) with the employee's point on it."""
    w, h, left, bottom, top, right = 420, 230, 46, 34, 12, 14
    xs = [float(x) for x, _ in curve]
    ys = [float(y) for _, y in curve]
    x_max = max(xs + [float(composite)]) * 1.15 or 1.0
    y_max = max(ys + [float(multiplier)]) * 1.15 or 1.0

    def px(x: float) -> float:
        return left + (w - left - right) * x / x_max

    def py(y: float) -> float:
        return h - bottom - (h - bottom - top) * y / y_max

    pts = [(xs[0] if xs[0] <= 0 else 0.0, ys[0])] + list(zip(xs, ys)) + [(x_max, ys[-1])]
    path = " ".join(f"{_fmt(px(x))},{_fmt(py(y))}" for x, y in pts)
    ticks_x = sorted(set(xs + [0.0]))
    ticks_y = sorted(set(ys + [0.0]))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
           f'aria-label="{html.escape(x_label)} / {html.escape(y_label)}" font-family="DejaVu Sans, Arial, sans-serif">']
    out.append(f'<line x1="{left}" y1="{_fmt(py(0))}" x2="{w - right}" y2="{_fmt(py(0))}" stroke="#9aa5b8" stroke-width="1"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{_fmt(py(0))}" stroke="#9aa5b8" stroke-width="1"/>')
    for t in ticks_x:
        out.append(f'<text x="{_fmt(px(t))}" y="{h - bottom + 14}" font-size="10" fill="#4a5568" text-anchor="middle">'
                   f'{html.escape(fmt.number(Fraction(t).limit_denominator(10**6), 2))}</text>')
    for t in ticks_y:
        out.append(f'<text x="{left - 6}" y="{_fmt(py(t) + 4)}" font-size="10" fill="#4a5568" text-anchor="end">'
                   f'{html.escape(fmt.number(Fraction(t).limit_denominator(10**6), 2))}</text>')
    out.append(f'<text x="{_fmt((left + w - right) / 2)}" y="{h - 4}" font-size="10" fill="#4a5568" text-anchor="middle">'
               f'{html.escape(x_label)}</text>')
    out.append(f'<text x="12" y="{_fmt((top + h - bottom) / 2)}" font-size="10" fill="#4a5568" text-anchor="middle" '
               f'transform="rotate(-90 12 {_fmt((top + h - bottom) / 2)})">{html.escape(y_label)}</text>')
    out.append(f'<polyline points="{path}" fill="none" stroke="#2b6cb0" stroke-width="2.5"/>')
    cx, cy = px(float(composite)), py(float(multiplier))
    out.append(f'<line x1="{_fmt(cx)}" y1="{_fmt(py(0))}" x2="{_fmt(cx)}" y2="{_fmt(cy)}" stroke="#c53030" stroke-width="1" stroke-dasharray="4 3"/>')
    out.append(f'<line x1="{left}" y1="{_fmt(cy)}" x2="{_fmt(cx)}" y2="{_fmt(cy)}" stroke="#c53030" stroke-width="1" stroke-dasharray="4 3"/>')
    out.append(f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="5" fill="#c53030"/>')
    anchor = "end" if cx > w * 0.7 else "start"
    dx = -8 if anchor == "end" else 8
    out.append(f'<text x="{_fmt(cx + dx)}" y="{_fmt(cy - 8)}" font-size="11" font-weight="700" fill="#c53030" text-anchor="{anchor}">'
               f'{html.escape(you)}</text>')
    out.append("</svg>")
    return "".join(out)


def trend_svg(points: Sequence[tuple[str, Fraction]], *, highlight: str) -> str:
    """Bars of the composite over the last periods (the statement's period highlighted)."""
    if not points:
        return ""
    w, h, bottom, top = 300, 110, 20, 8
    top_value = max([float(c) for _, c in points] + [1.0]) * 1.1
    bar = min((w - 20) / max(len(points), 1), 70.0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="DejaVu Sans, Arial, sans-serif">']
    one = h - bottom - (h - bottom - top) * 1.0 / top_value
    for i, (label, c) in enumerate(points):
        bh = (h - bottom - top) * float(c) / top_value
        x = 10 + i * bar + bar * 0.2
        colour = "#2b6cb0" if label == highlight else "#a3bfe0"
        out.append(f'<rect x="{_fmt(x)}" y="{_fmt(h - bottom - bh)}" width="{_fmt(bar * 0.6)}" height="{_fmt(bh)}" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{_fmt(x + bar * 0.3)}" y="{h - 5}" font-size="10" fill="#4a5568" text-anchor="middle">'
                   f'{html.escape(label)}</text>')
    out.append(f'<line x1="6" y1="{_fmt(one)}" x2="{w - 6}" y2="{_fmt(one)}" stroke="#c53030" stroke-width="1" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- the view
def _actual_text(fmt: Formatter, kind: str, value: Fraction | None) -> str:
    if value is None:
        return "—"
    if kind in MONEY_KINDS:
        return fmt.money(value)
    if kind in SHARE_KINDS:
        return fmt.percent(value, 1)
    return fmt.number(value, 2)


def statement_view(s: Statement, plan: Plan, lang: str) -> dict:
    """Everything the template shows, as text for ``lang`` (figures formatted once, here)."""
    t = translations(lang)
    _ = t.gettext
    fmt = formatter(lang, s.currency or plan.currency)
    metrics = []
    for m in s.metrics:
        metrics.append({
            "label": metric_label(plan, m.metric, lang),
            "description": metric_description(plan, m.metric, lang),
            "direction": _(DIRECTIONS.get(m.direction, m.direction)),
            "actual": _actual_text(fmt, m.kind, m.actual),
            "target": _actual_text(fmt, m.kind, m.target),
            "target_source": _(TARGET_SOURCES[m.target_source]) if m.target_source in TARGET_SOURCES else None,
            "achievement": fmt.percent(m.achievement) if m.achievement is not None else "—",
            "capped": m.capped,
            "cap": fmt.percent(m.cap),
            "weight": fmt.percent(m.weight),
            "effective_weight": fmt.percent(m.effective_weight),
            "renormalised": m.included and m.effective_weight != m.weight,
            "weighted_score": fmt.number(m.weighted_score) if m.weighted_score is not None else "—",
            "included": m.included,
            "reason": _(REASONS[m.reason]) if m.reason in REASONS else m.reason,
            "zeroed": m.included and m.when_missing == "zero",
        })
    left_out = [m for m in metrics if not m["included"]]
    b = s.bonus
    opportunities = [{
        "id": o.opportunity_id, "customer": o.customer_id or "—", "closed_on": fmt.date(o.closed_on, "medium"),
        "amount": fmt.money(o.amount), "credit": fmt.money(o.credit),
        "share": fmt.percent(o.share) if o.share is not None else "—",
        "as": department_label(plan, o.department, lang),
        "how": ", ".join(_(ACTIVITY_TYPES[a]) if a in ACTIVITY_TYPES else _humanise(a) for a in o.touch_types)
               or _("credited as the opportunity's owner (no recorded touch)"),
    } for o in s.opportunities]
    agg = s.department_aggregate
    trend = [{"period": p.period, "composite": fmt.number(p.composite), "multiplier": fmt.number(p.multiplier),
              "bonus": fmt.money(p.bonus_amount, s.currency), "state": _(STATES.get(p.state, p.state)),
              "now": p.period == s.period.label} for p in s.trend]
    levers = [{"label": metric_label(plan, lv.metric, lang), "achievement": fmt.percent(lv.achievement),
               "gain": fmt.number(lv.composite_gain), "composite_after": fmt.number(lv.composite_after),
               "multiplier_after": fmt.number(lv.multiplier_after)} for lv in s.levers]
    company = s.company
    return {
        "lang": lang,
        "draft": s.draft,
        "draft_mark": (_("DRAFT") + " · " + s.period.label).replace("\\", "").replace('"', ""),  # every printed page
        "employee_id": s.employee_id,
        "full_name": s.full_name or s.employee_id,
        "department": department_label(plan, s.department, lang),
        "department_description": _plan_text(plan, "department_description", s.department, lang),
        "role": _humanise(s.role) if s.role else None,
        "period": s.period.label,
        "period_start": fmt.date(s.period.start),
        "period_end": fmt.date(s.period.end),
        "period_days": s.period.days,
        "states": [_(STATES.get(w, w)) for w in s.status_words],
        "partial": bool(s.period.partial),
        "first_data_day": fmt.date(s.period.first_data_day) if s.period.first_data_day else None,
        "last_data_day": fmt.date(s.period.last_data_day) if s.period.last_data_day else None,
        "company_won": fmt.money(company.won_revenue),
        "company_target": fmt.money(company.target) if company.target is not None else None,
        "company_achievement": fmt.percent(company.achievement) if company.achievement is not None else None,
        "contribution_total": fmt.money(s.contribution_total),
        "opportunities": opportunities,
        "department_employees": agg.employees,
        "department_median": fmt.number(agg.median_composite) if agg.median_composite is not None else None,
        "department_credit": fmt.money(agg.credit),
        "department_share": fmt.percent(agg.share_of_result) if agg.share_of_result is not None else None,
        "metrics": metrics,
        "left_out": left_out,
        "incomplete": s.incomplete,
        "incomplete_reason": s.incomplete_reason,
        "composite": fmt.number(s.composite),
        "multiplier": fmt.number(s.multiplier),
        "curve_svg": curve_svg(s.payout_curve, s.composite, s.multiplier, fmt, you=_("you"),
                               x_label=_("composite"), y_label=_("payout multiplier")),
        "bonus_target": fmt.money(b.bonus_target),
        "period_share": fmt.exact(b.period_share),
        "fte": fmt.number(b.fte, 4) if b.fte is not None else None,
        "fte_days": fmt.number(b.fte_days, 4),
        "days_employed": b.days_employed,
        "days_in_period": b.days_in_period,
        "bonus_amount": fmt.money(b.amount),
        "held": b.held,
        "trend": trend,
        "trend_svg": trend_svg([(p.period, p.composite) for p in s.trend], highlight=s.period.label),
        "levers": levers,
        "plan": f"{s.plan_name} {s.plan_version}",
        "run_id": s.run_id[:12],
    }


def render_html(s: Statement, plan: Plan, lang: str) -> str:
    check_language(lang)
    return _environment(lang).get_template("statement.html.j2").render(v=statement_view(s, plan, lang))


#: below this many statements one process renders them (a pool's start-up costs more than it saves)
POOL_FROM = 400


def _render_serial(statements: Sequence[Statement], plan: Plan, lang: str) -> list[bytes]:
    template = _environment(check_language(lang)).get_template("statement.html.j2")
    return [template.render(v=statement_view(s, plan, lang)).encode("utf-8") for s in statements]


def in_processes(fn, chunks: Sequence, *args, workers: int) -> list:
    """``fn(chunk, *args)`` for each chunk in a pool of ``workers`` spawned processes, results in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, chunks, *([a] * len(chunks) for a in args)))


def render_many(statements: Sequence[Statement], plan: Plan, lang: str, *,
                workers: int | None = None) -> list[tuple[str, bytes]]:
    """(employee_id, HTML bytes) for each statement; a large batch is rendered on every core."""
    import os

    check_language(lang)
    workers = workers or min(os.cpu_count() or 1, 8)
    if len(statements) < POOL_FROM or workers < 2:
        pages = _render_serial(statements, plan, lang)
    else:
        size = -(-len(statements) // (workers * 4))  # a few chunks per worker: an even finish
        chunks = [list(statements[i:i + size]) for i in range(0, len(statements), size)]
        pages = [page for part in in_processes(_render_serial, chunks, plan, lang, workers=workers) for page in part]
    return [(s.employee_id, page) for s, page in zip(statements, pages)]


def renderer(fmt: str):
    """The renderer of the statements flow for ``fmt`` (html or pdf)."""
    if fmt == "html":
        return render_many
    if fmt == "pdf":
        from orbit.pdf import render_pdfs

        return render_pdfs
    raise ValueError(f"unknown statement format {fmt!r}: use html or pdf")
