"""Plans (evaluation configuration): a validated model of the plan YAML.

Errors name the file, the line and the field, e.g.::

    plans/default.yaml:31: weights.sales: weights sum to 0.9, must sum to 1
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MetricKind = Literal[
    "measurement",
    "activity_count",
    "prospecting_index",
    "closing_index",
    "lead_sla_compliance",
    "commercial_contribution",
    "company_revenue",
    "customer_satisfaction",
]
Language = Literal["en", "es", "nl"]
LANGUAGES: tuple[str, ...] = ("en", "es", "nl")
AttributionModel = Literal["last_touch", "first_touch", "linear", "position_based", "time_decay", "shapley", "markov"]
#: What a missing actual or target does (DESIGN "Missing data policy"): drop the metric and renormalise the
#: weights; count a missing actual as achievement 0 (a missing target still drops it); hold the bonus at 0.
MissingPolicy = Literal["renormalise", "zero", "hold"]
WEIGHT_TOLERANCE = Decimal("1e-9")


class PlanError(ValueError):
    """A plan file that cannot be used; the message names file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = str | dict[Language, str]
"""Words for people: one string, or one per language (``{en: ..., es: ..., nl: ...}``)."""


def readable(identifier: str) -> str:
    """The default label of an id: ``days_to_invoice`` -> "Days to invoice", ``hr`` -> "HR"."""
    words = [w for w in identifier.replace("-", "_").split("_") if w]
    if not words:
        return identifier
    if len(words) == 1 and len(words[0]) <= 2:
        return words[0].upper()
    text = " ".join(words)
    return text[0].upper() + text[1:]


def pick_text(text: Text | None, lang: str | None) -> str | None:
    """The text in ``lang``, falling back to English, then to any language given; None when absent."""
    if text is None or isinstance(text, str):
        return text
    for key in (lang, "en"):
        if key and text.get(key):  # type: ignore[call-overload]
            return text[key]  # type: ignore[index]
    return next(iter(text.values()), None)


def _check_text(v: Text | None) -> Text | None:
    if isinstance(v, str) and not v.strip():
        raise ValueError("must not be blank")
    if isinstance(v, dict):
        if not v:
            raise ValueError(f"give a text, or one per language ({', '.join(LANGUAGES)})")
        blank = [k for k, t in v.items() if not t.strip()]
        if blank:
            raise ValueError(f"blank text for {blank}")
    return v


class Described(_Strict):
    """Optional words for people: a label and a one-sentence description."""

    label: Text | None = None
    description: Text | None = None

    @field_validator("label", "description")
    @classmethod
    def _text(cls, v: Text | None) -> Text | None:
        return _check_text(v)


class Metric(Described):
    kind: MetricKind
    direction: Literal["higher", "lower"] = "higher"
    target: Decimal | None = None
    cap: Decimal | None = Field(default=None, ge=0)
    metric: str | None = None  # measurement: the measurements.metric name
    agg: Literal["mean", "sum", "last", "min", "max"] = "mean"
    activity_types: tuple[str, ...] = ()
    sla_hours: Decimal | None = Field(default=None, gt=0)
    when_missing: MissingPolicy | None = None  # None: the plan's `when_missing`

    @model_validator(mode="after")
    def _kind_fields(self) -> Metric:
        if self.kind == "measurement" and not self.metric:
            raise ValueError("a measurement metric needs `metric` (the measurements.metric name)")
        if self.kind == "activity_count" and not self.activity_types:
            raise ValueError("an activity_count metric needs `activity_types`")
        if self.kind == "lead_sla_compliance" and self.sla_hours is None:
            raise ValueError("a lead_sla_compliance metric needs `sla_hours`")
        return self


class PositionBased(_Strict):
    first: Decimal = Field(default=Decimal("0.4"), ge=0, le=1)
    last: Decimal = Field(default=Decimal("0.4"), ge=0, le=1)

    @model_validator(mode="after")
    def _shares(self) -> PositionBased:
        if self.first + self.last > 1:
            raise ValueError("first + last must be <= 1")
        if self.first + self.last == 0:
            raise ValueError("first + last must be > 0")
        return self


class TimeDecay(_Strict):
    half_life_days: Decimal = Field(default=Decimal(14), gt=0)


class Attribution(_Strict):
    model: AttributionModel = "linear"
    lookback_days: int = Field(default=180, ge=0)
    position_based: PositionBased = PositionBased()
    time_decay: TimeDecay = TimeDecay()


#: The revenue funnel's multiplicative stages, in order: won revenue = their product.
FUNNEL_STAGES = ("leads", "sla_rate", "closed_per_answered", "win_rate", "average_won_deal")


class FunnelTargets(_Strict):
    leads: Decimal | None = Field(default=None, gt=0)  # leads handed over by marketing
    sla_rate: Decimal | None = Field(default=None, gt=0, le=1)  # share of them answered within the SLA
    closed_per_answered: Decimal | None = Field(default=None, gt=0)  # opportunities closed per answered lead
    win_rate: Decimal | None = Field(default=None, gt=0, le=1)  # won / closed
    average_won_deal: Decimal | None = Field(default=None, gt=0)  # won revenue / won deals
    won_revenue: Decimal | None = Field(default=None, gt=0)  # with all five stages: their product

    @property
    def complete(self) -> bool:
        return all(getattr(self, s) is not None for s in FUNNEL_STAGES)

    @property
    def revenue(self) -> Decimal | None:
        """The won-revenue target: given, or the product of the five stage targets."""
        if self.won_revenue is not None or not self.complete:
            return self.won_revenue
        product = Decimal(1)
        for s in FUNNEL_STAGES:
            product *= getattr(self, s)
        return product

    @model_validator(mode="after")
    def _consistent(self) -> FunnelTargets:
        if self.won_revenue is not None and self.complete:
            product = Decimal(1)
            for s in FUNNEL_STAGES:
                product *= getattr(self, s)
            if product != self.won_revenue:
                raise ValueError(f"won_revenue {self.won_revenue} is not the product of the five stage targets "
                                 f"({product}); leave it out or make them agree")
        return self


class Funnel(_Strict):
    sla_hours: Decimal | None = Field(default=None, gt=0)  # default: the plan's lead_sla_compliance metric's
    targets: FunnelTargets = FunnelTargets()


class Plan(_Strict):
    name: str
    version: str
    effective_from: dt.date
    timezone: str
    period: Literal["month", "quarter"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    achievement_cap: Decimal = Field(ge=0)
    departments: tuple[str, ...] = Field(min_length=1)
    # filled from a `departments:` mapping (id -> {label, description}); not a YAML key of its own
    department_texts: dict[str, Described] = {}
    metrics: dict[str, Metric]
    weights: dict[str, dict[str, Decimal]]
    role_weights: dict[str, dict[str, Decimal]] = {}
    attribution: Attribution = Attribution()
    payout_curve: tuple[tuple[Decimal, Decimal], ...] = Field(min_length=1)
    when_missing: MissingPolicy = "renormalise"
    funnel: Funnel = Funnel()
    language: Literal["en", "es", "nl"] | None = None  # of statements (`orbit statements --lang` overrides it)

    @model_validator(mode="before")
    @classmethod
    def _departments_mapping(cls, data: object) -> object:
        """`departments` is a list of ids or a mapping id -> {label, description} (order kept)."""
        if not isinstance(data, dict):
            return data
        depts = data.get("departments")
        if isinstance(depts, dict):
            if "department_texts" in data:
                raise _FieldError(("department_texts",), "give labels under `departments` only")
            data = dict(data)
            data["departments"] = [str(k) for k in depts]
            data["department_texts"] = {str(k): ({} if v is None else v) for k, v in depts.items()}
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: object) -> object:
        return str(v) if isinstance(v, (int, float)) else v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r} (use an IANA name such as Europe/Madrid)") from None
        return v

    @field_validator("departments")
    @classmethod
    def _dept_ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        bad = [d for d in v if not re.fullmatch(r"[a-z][a-z0-9_]*", d)]
        if bad:
            raise ValueError(f"department ids must be lowercase snake_case: {bad}")
        if len(set(v)) != len(v):
            raise ValueError("departments are listed twice")
        return v

    @field_validator("payout_curve")
    @classmethod
    def _curve(cls, v: tuple[tuple[Decimal, Decimal], ...]) -> tuple[tuple[Decimal, Decimal], ...]:
        for (x0, y0), (x1, y1) in zip(v, v[1:]):
            if x1 < x0:
                raise ValueError(f"payout points must be sorted by composite: {x1} comes after {x0}")
            if y1 < y0:
                raise ValueError(f"payout multipliers must not decrease: {y1} comes after {y0}")
        return v

    @model_validator(mode="after")
    def _weights(self) -> Plan:
        rows = {("weights", d): row for d, row in self.weights.items()}
        rows.update({("role_weights", k): row for k, row in self.role_weights.items()})
        for (section, key), row in rows.items():
            dept = key.split("/", 1)[0]
            if section == "role_weights" and "/" not in key:
                raise _FieldError((section, key), "role_weights keys are 'department/role'")
            if dept not in self.departments:
                raise _FieldError((section, key), f"department {dept!r} is not in `departments`")
            for metric, w in row.items():
                if metric not in self.metrics:
                    raise _FieldError((section, key, metric), f"metric {metric!r} is not defined in `metrics`")
                if w < 0:
                    raise _FieldError((section, key, metric), "weights must be >= 0")
            total = sum(row.values(), Decimal(0))
            if abs(total - 1) > WEIGHT_TOLERANCE:
                raise _FieldError((section, key), f"weights sum to {total}, must sum to 1")
        missing = [d for d in self.departments if d not in self.weights]
        if missing:
            raise _FieldError(("weights",), f"no weight row for departments {missing}")
        return self

    # ---- derived helpers -------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def weight_row(self, department: str, role: str | None) -> dict[str, Decimal]:
        return self.role_weights.get(f"{department}/{role}") or self.weights.get(department, {})

    def cap_for(self, metric: str) -> Decimal:
        cap = self.metrics[metric].cap
        return self.achievement_cap if cap is None else cap

    def policy_for(self, metric: str) -> str:
        """The metric's `when_missing`, else the plan's."""
        return self.metrics[metric].when_missing or self.when_missing

    @property
    def funnel_sla_hours(self) -> Decimal:
        """The SLA of the funnel's "answered within the SLA" stage: the funnel's, else the first
        lead_sla_compliance metric's, else 24 hours."""
        if self.funnel.sla_hours is not None:
            return self.funnel.sla_hours
        for m in self.metrics.values():
            if m.kind == "lead_sla_compliance" and m.sla_hours is not None:
                return m.sla_hours
        return Decimal(24)

    def metric_label(self, name: str, lang: str | None = None) -> str:
        """The metric's label in ``lang`` (else English, else the id made readable)."""
        m = self.metrics.get(name)
        return pick_text(m.label if m else None, lang) or readable(name)

    def metric_description(self, name: str, lang: str | None = None) -> str | None:
        m = self.metrics.get(name)
        return pick_text(m.description if m else None, lang)

    def department_label(self, dept: str, lang: str | None = None) -> str:
        """The department's label in ``lang`` (else English, else the id made readable)."""
        d = self.department_texts.get(dept)
        return pick_text(d.label if d else None, lang) or readable(dept)

    def department_description(self, dept: str, lang: str | None = None) -> str | None:
        d = self.department_texts.get(dept)
        return pick_text(d.description if d else None, lang)


class _FieldError(ValueError):
    def __init__(self, loc: tuple[str, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping key and sequence item."""


def _line_map(text: str) -> dict[tuple[str, ...], int]:
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                p = path + (str(k.value),)
                lines[p] = k.start_mark.line + 1
                walk(v, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (str(i),))

    root = yaml.compose(text, Loader=_LineLoader)
    if root is not None:
        walk(root, ())
    return lines


def _line_of(lines: dict[tuple[str, ...], int], loc: tuple[str, ...]) -> int:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def load_plan(path: str | Path) -> Plan:
    """Load and validate one plan file; raise :class:`PlanError` naming file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanError(f"{path}: cannot read plan file: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PlanError(f"{path}:{line}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}:1: a plan must be a YAML mapping")
    if "department_texts" in data:  # filled from `departments`, not a key of the file
        raise PlanError(f"{path}:{_line_of(lines, ('department_texts',))}: department_texts: "
                        "unknown field (give labels under `departments`)")
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = tuple(str(p) for p in err["loc"])
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _FieldError):
                loc, msg = ctx_err.loc, ctx_err.msg
            else:
                msg = err["msg"].removeprefix("Value error, ")
            if loc[:1] == ("department_texts",) and len(loc) > 1:  # the mapping form of `departments`
                loc = ("departments",) + loc[1:]
            field = ".".join(loc) or "(plan)"
            msgs.append(f"{path}:{_line_of(lines, loc)}: {field}: {msg}")
        raise PlanError("\n".join(msgs)) from None


class PlanSet:
    """One plan file, or a folder of plan files; each period uses the plan in force on its first day."""

    def __init__(self, plans: list[Plan], source: Path) -> None:
        if not plans:
            raise PlanError(f"{source}: no plan files (*.yaml) found")
        self.plans = sorted(plans, key=lambda p: p.effective_from)
        self.source = source
        first = self.plans[0]
        for p in self.plans[1:]:
            for attr in ("timezone", "currency", "period"):
                if getattr(p, attr) != getattr(first, attr):
                    raise PlanError(
                        f"{source}: plans {first.name!r} and {p.name!r} differ in {attr}; "
                        "plans in one folder must share timezone, currency and period kind"
                    )
        dates = [p.effective_from for p in self.plans]
        if len(set(dates)) != len(dates):
            raise PlanError(f"{source}: two plans have the same effective_from")

    @classmethod
    def load(cls, path: str | Path) -> PlanSet:
        path = Path(path)
        if path.is_dir():
            files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
            return cls([load_plan(f) for f in files], path)
        return cls([load_plan(path)], path)

    @property
    def base(self) -> Plan:
        """The plan whose timezone, currency and period kind every plan shares."""
        return self.plans[0]

    def for_period_start(self, start: dt.date) -> Plan | None:
        in_force = [p for p in self.plans if p.effective_from <= start]
        return in_force[-1] if in_force else None

    @property
    def departments(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.plans:
            seen.update(dict.fromkeys(p.departments))
        return list(seen)
