"""Synthetic organisation generator (``orbit generate``): not on the pipeline's runtime path.

The model of the company
------------------------
A mid-sized distribution company whose departments are the plan's
``departments``. Each known department has a headcount share (sales 15%,
marketing 8%, customer service 12%, logistics 20% — mostly drivers —,
dispatch 8%, finance 7%, HR 5%, facilities 5%, technology 10%; any other
department gets 5% and generic roles), a manager role with a span of control
and member roles with annual bonus targets. Managers report to the
department's head manager, members to a manager of their department. About
10%/year of people join inside the window and 8%/year leave; ~6% of the
stable members get a second roster row (fte change, role change or a
transfer to another non-sales department).

Everything happens inside a window of ``months`` whole months ending at
``end_date`` (local dates in the plan's timezone); nothing is dated after
``end_date`` 23:59 local time.

* **Opportunities** (~0.6 per employee per month) are opened on workdays by
  a seller active at that moment. Their source drives the first touches:
  ``marketing`` leads are handed over by a marketer (``lead_handoff``) and
  contacted by the owner (``first_contact``, mostly within 24 h; each seller
  has their own lateness rate so the lead SLA varies); ``referral`` leads
  start with a ``lead_referred`` by anyone (drivers and customer service
  most often). Before the decision, other departments touch some deals:
  customer service calls, sample deliveries by drivers, dispatch calls,
  finance credit approvals on large deals (fast or slow), technology demos,
  facilities-hosted visits and HR-run customer trainings. The win
  probability depends on the source, the seller's skill and on which
  departments touched the deal, so attribution models have signal.
  Deals closing after the window (or stalled) stay ``open``.
* **Activities** also hold each department's day-to-day work, generated per
  roster row from a Poisson rate per workday: deliveries (the bulk),
  dispatch routes, tickets and calls, invoices, credit reviews, interviews,
  work orders, incidents, trainings and spontaneous referrals.
* **Measurements** are monthly KPI readings per employee (or team figures).
* **Feedback** follows resolved tickets and deliveries.
* **Targets** are written per plan period for the metrics whose plan default
  does not fit the generated scale (company revenue, contribution,
  prospecting, tickets, referrals), plus a few employee-level overrides.

All randomness comes from one ``numpy.random.default_rng(seed)``; all work
is vectorised (numpy + polars), so the same arguments give the same bytes.
``bad_rows`` mixes realistic defects into every dataset.

Modules: ``profile`` (the company's constants), ``model`` (the ``Org`` state and its time and
roster helpers), one module per dataset (``employees``, ``opportunities``, ``activities``,
``measurements``, ``feedback``, ``targets``: how it is drawn and how it is written), ``fmt``
(fixed-point arrays to file text), ``bad_rows`` and ``generator`` (the order of the steps,
writing the landing files).
"""

from orbit.synth.generator import DATASET_ORDER, default_end_date, generate_org, write_org
from orbit.synth.profile import ACTIVITY_TYPES, SOURCES

__all__ = ["ACTIVITY_TYPES", "DATASET_ORDER", "SOURCES", "default_end_date", "generate_org", "write_org"]
