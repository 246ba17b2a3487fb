"""The revenue funnel of one period, and where its gap to target (and its change) came from.

The chain, company-wide, in the plan's timezone:

1. ``leads``: leads handed over by marketing — distinct opportunities with source ``marketing``,
   created in the period, that carry a ``lead_handoff`` activity (the prospecting index, company-wide);
2. ``answered``: those of them first-contacted within the SLA — a ``first_contact`` on the
   opportunity at or after its first handoff and within the SLA hours (a lead whose window is still open
   at the end of the data counts as not yet answered: the period's funnel is then provisional);
3. ``closed``: opportunities closed (won or lost) in the period, whatever their source;
4. ``win_rate``: won / closed;
5. ``average_won_deal``: won revenue / won deals;
6. ``won_revenue``: the amount won in the period (the ``company_revenue`` actual).

Won revenue is the product of five factors — leads × (answered / leads) × (closed / answered) ×
(won / closed) × (revenue / won) — so a gap between two states of the funnel (actual vs target,
this period vs the previous one) splits over the stages with the **logarithmic mean Divisia index**
(LMDI-I): stage i contributes L(R₁, R₀) · ln(x₁ᵢ / x₀ᵢ), with L(a, b) = (a − b) / (ln a − ln b).
Why LMDI: for a product it leaves no residual (the contributions add up to the gap exactly, unlike
a first-order or Laspeyres split); unlike sequential substitution it does not depend on the order in
which the stages are changed; swapping the two states only flips the signs; and zeros have a limit
(Ang & Liu 2007): when won revenue is 0 on one side, the stages that are 0 there share the whole gap
equally and the others contribute nothing. A factor that is undefined (0/0 after an earlier stage
reached 0) takes the other side's value, so it contributes nothing. When the chain is broken — a stage
is 0 but a later one is not (e.g. revenue closed in a period without marketing leads) — no
multiplicative identity holds and the decomposition is left out with a note.

The contributions are computed to 40 significant digits and rounded to cents so that they add up to
the gap (itself rounded half-up to cents) exactly: each floored to the cent, the cents left go to the
largest remainders (ties: funnel order).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from fractions import Fraction

import polars as pl

from schemas.contracts import CLOSED_STAGES, FIRST_CONTACT, LEAD_HANDOFF
from schemas.marts import frame_schema
from schemas.plan import FUNNEL_STAGES, Plan
from transforms.periods import Period, in_period
from transforms.rounding import half_up, round_half_up

#: the funnel's rows, in order: (stage, label)
STAGES: tuple[tuple[str, str], ...] = (
    ("leads", "Leads handed over by marketing"),
    ("answered", "Handoffs answered within the SLA"),
    ("closed", "Opportunities closed"),
    ("win_rate", "Win rate"),
    ("average_won_deal", "Average won deal"),
    ("won_revenue", "Won revenue"),
)
CENT = Decimal("0.01")
_PRECISION = 40
#: contributions are ranked for the leftover cents at this many places: an exact tie (e.g. ln 2 and ln ½ of
#: one weight) stays a tie, broken by funnel order, whatever the 40th digit says
_RANK_PLACES = Decimal("1e-20")

#: the ``revenue_funnel`` rows a period produces (declared in :mod:`schemas.marts`)
FUNNEL_SCHEMA = frame_schema("revenue_funnel")


@dataclass(frozen=True)
class FunnelCounts:
    """One period's funnel figures (counts and money)."""

    leads: int
    answered: int
    closed: int
    won: int
    revenue: Decimal

    def factors(self) -> tuple[Fraction | None, ...]:
        """The five factors (leads, sla_rate, closed_per_answered, win_rate, average_won_deal); None = 0/0."""
        chain = [Fraction(1), Fraction(self.leads), Fraction(self.answered), Fraction(self.closed),
                 Fraction(self.won), Fraction(self.revenue)]
        out: list[Fraction | None] = []
        for prev, cur in zip(chain, chain[1:]):
            out.append(None if prev == 0 else cur / prev)
        return tuple(out)

    @property
    def broken(self) -> bool:
        """A stage is 0 and a later one is not: the product of the factors is not the won revenue."""
        chain = [self.leads, self.answered, self.closed, self.won, self.revenue]
        first_zero = next((i for i, v in enumerate(chain) if v == 0), None)
        return first_zero is not None and any(v != 0 for v in chain[first_zero + 1:])


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------
def funnel_counts(plan: Plan, period: Period, opportunities: pl.DataFrame, activities: pl.DataFrame,
                  ) -> FunnelCounts:
    """The funnel's figures for ``period`` (see the module docstring)."""
    tz, o, a = plan.timezone, opportunities, activities
    ts = pl.Datetime("us", "UTC")
    sla_us = Fraction(plan.funnel_sla_hours) * 3600 * 1_000_000
    sla = dt.timedelta(microseconds=half_up(sla_us.numerator, sla_us.denominator))
    leads = o.filter((pl.col("source") == "marketing") & in_period(o, "created_at", tz, period)).select("opportunity_id")
    handoffs = (
        a.filter((pl.col("activity_type") == LEAD_HANDOFF) & pl.col("opportunity_id").is_not_null())
        .join(leads, on="opportunity_id", how="semi")
        .group_by("opportunity_id").agg(pl.col("occurred_at").cast(ts).min().alias("_t"))
        .sort("_t")
    )
    contacts = (
        a.filter((pl.col("activity_type") == FIRST_CONTACT) & pl.col("opportunity_id").is_not_null())
        .select("opportunity_id", pl.col("occurred_at").cast(ts).alias("_fc")).sort("_fc")
    )
    answered = handoffs.join_asof(contacts, left_on="_t", right_on="_fc", by="opportunity_id", strategy="forward",
                                  check_sortedness=False).filter(pl.col("_fc") <= pl.col("_t") + sla).height
    closed = o.filter(pl.col("stage").is_in(CLOSED_STAGES) & pl.col("closed_at").is_not_null()
                      & in_period(o, "closed_at", tz, period))
    won = closed.filter(pl.col("stage") == "won")
    revenue = won.get_column("amount").sum() if won.height else Decimal(0)
    return FunnelCounts(handoffs.height, answered, closed.height, won.height, Decimal(revenue or 0).quantize(CENT))


# ---------------------------------------------------------------------------
# decomposition
# ---------------------------------------------------------------------------
def _log_mean(a: Decimal, b: Decimal) -> Decimal:
    return a if a == b else (a - b) / (a.ln() - b.ln())


def lmdi(reference: tuple[Fraction | None, ...], current: tuple[Fraction | None, ...]) -> list[Decimal]:
    """Exact-in-the-limit LMDI-I contributions of each factor to Π current − Π reference (to 40 digits;
    see the module docstring for zeros and undefined factors). Factors are >= 0 or None (undefined)."""
    ref: list[Fraction] = []
    cur: list[Fraction] = []
    for r_in, c_in in zip(reference, current, strict=True):
        r, c = (r_in if r_in is not None else c_in), (c_in if c_in is not None else r_in)
        if r is None or c is None:  # undefined on both sides: after a zero on both, contributes nothing
            r = c = Fraction(1)
        if r < 0 or c < 0:
            raise ValueError("funnel factors are never negative")
        ref.append(r)
        cur.append(c)
    with localcontext(Context(prec=_PRECISION)):
        r0 = _dec(_product(ref))
        r1 = _dec(_product(cur))
        if r0 == r1 == 0:
            return [Decimal(0)] * len(ref)
        if r0 == 0 or r1 == 0:
            zero_side = ref if r0 == 0 else cur
            zeros = [i for i, v in enumerate(zero_side) if v == 0]
            share = (r1 - r0) / len(zeros)
            return [share if i in zeros else Decimal(0) for i in range(len(ref))]
        weight = _log_mean(r1, r0)
        return [weight * (_dec(c) / _dec(r)).ln() for r, c in zip(ref, cur)]


def _product(values: list[Fraction]) -> Fraction:
    out = Fraction(1)
    for v in values:
        out *= v
    return out


def _dec(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def to_cents_adding_up(contributions: list[Decimal], total: Decimal) -> list[Decimal]:
    """``contributions`` rounded to cents so that they add up to ``total`` (a multiple of a cent) exactly:
    each floored, the cents left over (or missing) go one each to the largest (smallest) remainders,
    ties in list order."""
    if total != total.quantize(CENT):
        raise ValueError(f"total {total} is not whole cents")
    floors = [c.quantize(CENT, rounding=ROUND_FLOOR) for c in contributions]
    remainders = [(c - f).quantize(_RANK_PLACES) for c, f in zip(contributions, floors)]
    left = int((total - sum(floors, Decimal(0))) / CENT)
    order = sorted(range(len(floors)), key=lambda i: (-remainders[i], i))
    if left < 0:
        order = sorted(range(len(floors)), key=lambda i: (remainders[i], i))
    for k in range(abs(left)):
        i = order[k % len(order)]
        floors[i] += CENT if left > 0 else -CENT
    return floors


def decompose(reference: tuple[Fraction | None, ...], reference_revenue: Fraction,
              current: tuple[Fraction | None, ...], current_revenue: Fraction) -> tuple[Decimal, list[Decimal]]:
    """(gap, contributions in cents adding up to it): gap = current − reference revenue, rounded half-up."""
    gap = round_half_up(current_revenue - reference_revenue, 2)
    return gap, to_cents_adding_up(lmdi(reference, current), gap)


# ---------------------------------------------------------------------------
# the mart rows of one period
# ---------------------------------------------------------------------------
def _figures(c: FunnelCounts) -> list[Fraction | None]:
    f = c.factors()
    return [Fraction(c.leads), Fraction(c.answered), Fraction(c.closed), f[3], f[4], Fraction(c.revenue)]


def funnel_rows(plan: Plan, period: Period, current: FunnelCounts, previous: FunnelCounts | None) -> pl.DataFrame:
    """``revenue_funnel`` rows of one period (:data:`FUNNEL_SCHEMA`): each stage's figure and factor, the
    plan's funnel targets, the previous period's, and each stage's contribution to the gap to target and
    to the change from the previous period (cents, adding up to the won_revenue row's figure)."""
    targets = plan.funnel.targets
    t_factors = tuple(None if getattr(targets, s) is None else Fraction(getattr(targets, s)) for s in FUNNEL_STAGES)
    t_revenue = targets.revenue
    t_figures: list[Fraction | None] = []
    running: Fraction | None = Fraction(1)
    for f in t_factors[:3]:  # count stages: the cumulative product of the targets
        running = None if running is None or f is None else running * f
        t_figures.append(running)
    t_figures += [t_factors[3], t_factors[4], None if t_revenue is None else Fraction(t_revenue)]

    notes: list[str] = []
    gap_parts: list[Decimal | None] = [None] * 5
    gap_total: Decimal | None = None
    if t_revenue is not None:
        gap_total = round_half_up(Fraction(current.revenue) - Fraction(t_revenue), 2)
        if not targets.complete:
            notes.append("gap to target not split: the plan gives no target for every funnel stage")
        elif current.broken:
            notes.append("gap to target not split: a stage is 0 while a later one is not")
        else:
            gap_total, parts = decompose(t_factors, Fraction(t_revenue), current.factors(), Fraction(current.revenue))
            gap_parts = list(parts)
    change_parts: list[Decimal | None] = [None] * 5
    change_total: Decimal | None = None
    if previous is not None:
        change_total = current.revenue - previous.revenue
        if current.broken or previous.broken:
            notes.append("change not split: a stage is 0 while a later one is not")
        else:
            change_total, parts = decompose(previous.factors(), Fraction(previous.revenue),
                                            current.factors(), Fraction(current.revenue))
            change_parts = list(parts)
    cur_fig, cur_fac = _figures(current), list(current.factors()) + [None]
    prev_fig = _figures(previous) if previous else [None] * 6
    prev_fac = (list(previous.factors()) if previous else [None] * 5) + [None]
    note = "; ".join(notes) or None
    rows = []
    for step, (stage, label) in enumerate(STAGES, start=1):
        last = stage == "won_revenue"
        rows.append({
            "period": period.label, "step": step, "stage": stage, "label": label,
            "figure": _display(cur_fig[step - 1]), "factor": _display(cur_fac[step - 1]),
            "target_factor": None if last else _display(t_factors[step - 1]),
            "target_figure": _display(t_figures[step - 1]),
            "previous_figure": _display(prev_fig[step - 1]), "previous_factor": _display(prev_fac[step - 1]),
            "contribution_to_gap": gap_total if last else gap_parts[step - 1],
            "contribution_to_change": change_total if last else change_parts[step - 1],
            "note": note if last else None,
        })
    return pl.DataFrame(rows, schema=FUNNEL_SCHEMA, orient="row")


def _display(value: Fraction | None) -> Decimal | None:
    return None if value is None else round_half_up(value, 12)


def revenue_funnel(plan: Plan, period: Period, opportunities: pl.DataFrame, activities: pl.DataFrame
                   ) -> pl.DataFrame:
    """The ``revenue_funnel`` rows of ``period``, compared with its target and the previous period."""
    current = funnel_counts(plan, period, opportunities, activities)
    before = period.previous
    previous = (funnel_counts(plan, before, opportunities, activities)
                if _has_data(plan, before, opportunities, activities) else None)
    return funnel_rows(plan, period, current, previous)


def _has_data(plan: Plan, period: Period, opportunities: pl.DataFrame, activities: pl.DataFrame) -> bool:
    """Any opportunity created or closed, or any activity, in ``period`` (else it is before the data starts
    and there is no previous period to compare with)."""
    tz = plan.timezone
    return bool(
        opportunities.filter(in_period(opportunities, "created_at", tz, period)
                             | in_period(opportunities, "closed_at", tz, period)).height
        or activities.filter(in_period(activities, "occurred_at", tz, period)).height
    )
