"""Cross-area attribution: which employees, in which departments, moved a won deal.

Pure functions, frames in, frames out (DESIGN.md, Computation step 5 and
"Precise rules": Touches, The Shapley and Markov games, Rounding of credits).

* :func:`build_touches` joins closed opportunities to the activities that carry
  their id within the lookback window (vectorised polars).
* :func:`attribute_credits` splits every won opportunity's amount over its
  touching employees with one model and returns the per-employee credits plus
  the per-department values of the batch.
* :func:`allocate_cents`, :func:`shapley_values` and
  :func:`markov_removal_effects` are the exact building blocks.

Modules: ``common`` (model names, schemas, share scaling), ``touches``, ``cents``
(largest-remainder allocation: the scalar rule and its vectorised and Python
frame engines), ``heuristic`` (the five touch-weight models), ``shapley``,
``markov``, ``games`` (the two games on a batch and the department split) and
``engine`` (:func:`attribute_credits`).

Exactness. Every split is carried as integer weights ``num / den`` per
opportunity (rationals, never floats), and money is allocated in integer cents
by the largest-remainder rule, so the credits of an opportunity always add up
to its amount to the cent. ``time_decay`` weights are irrational: each touch's
weight relative to the opportunity's latest touch, 2^(-(age - min age) / half
life), is computed to ~48 digits (Decimal tables at 60 digits, exact integer
products) and rounded to an integer multiple of 1e-20 (``heuristic.DECAY_SCALE``); that
is deterministic on every platform, and from there on the arithmetic is exact.
"""

from schemas.contracts import CLOSED_STAGES
from transforms.attribution.cents import allocate_cents
from transforms.attribution.common import (
    CREDITS_SCHEMA,
    DEPARTMENT_VALUES_SCHEMA,
    GAME_MODELS,
    HEURISTIC_MODELS,
    MODELS,
    SHARE_DECIMALS,
    TOUCH_FRAME_COLUMNS,
    UNKNOWN_DEPARTMENT,
)
from transforms.attribution.engine import attribute_credits
from transforms.attribution.markov import markov_removal_effects
from transforms.attribution.shapley import shapley_values
from transforms.attribution.touches import build_touches

__all__ = [
    "CLOSED_STAGES",
    "CREDITS_SCHEMA",
    "DEPARTMENT_VALUES_SCHEMA",
    "GAME_MODELS",
    "HEURISTIC_MODELS",
    "MODELS",
    "SHARE_DECIMALS",
    "TOUCH_FRAME_COLUMNS",
    "UNKNOWN_DEPARTMENT",
    "allocate_cents",
    "attribute_credits",
    "build_touches",
    "markov_removal_effects",
    "shapley_values",
]
