"""The landing contract: each input dataset declared exactly once.

Everything else about a dataset is derived from its declaration here:
the DuckDB DDL (:func:`warehouse.sql.ddl`), the polars schema
(:func:`schemas.derive.polars_schema`), the text-to-type casting rules
(:func:`warehouse.ingest_sql.typed_sql`), the Great Expectations suite
(:func:`schemas.suites.build_suite`) and the periods a row belongs to (``event_times``, ``data_time``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

ColumnType = Literal["string", "int", "decimal", "money", "timestamp", "date"]

STAGES = ("open", "won", "lost")
#: The stages of a closed opportunity (it has a closed_at).
CLOSED_STAGES = ("won", "lost")
SOURCES = ("marketing", "referral", "outbound", "inbound", "partner")
#: The activity vocabulary: the types the engine understands. The first two drive metrics by themselves
#: (prospecting, lead SLA, the revenue funnel); any of them can be counted by a plan's activity_count metric.
#: A type outside it that no plan metric counts pays nothing and is reported (data_quality).
LEAD_HANDOFF = "lead_handoff"  # marketing hands a lead to sales
FIRST_CONTACT = "first_contact"  # sales' first contact with a handed-off lead
ENGINE_ACTIVITY_TYPES = (
    LEAD_HANDOFF,
    FIRST_CONTACT,
    "lead_referred",
    "meeting_held",
    "ticket_resolved",
    "delivery_completed",
    "invoice_issued",
    "customer_call",
    "training_completed",
)

#: Placeholder for a value set that comes from the plan in force (its departments).
PLAN_DEPARTMENTS = "plan.departments"
#: Placeholder for a value set that is the plan's single currency.
PLAN_CURRENCY = "plan.currency"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True  # the column must be present in every delivered file
    nullable: bool = False  # a present column may hold empty values
    values: tuple[str, ...] | str | None = None  # allowed set, or a PLAN_* placeholder
    min: float | None = None
    max: float | None = None
    strict_min: bool = False  # min is exclusive
    regex: str | None = None
    not_in_future: bool = False  # timestamps more than the tolerance ahead are quarantined
    reason: str | None = None  # reason code when a value breaks a set/range rule
    doc: str = ""
    published: bool = True  # may appear in the analysts' snapshot (names and compensation never do)


@dataclass(frozen=True)
class RequiredWhen:
    """`column` must not be null on rows where `when_column` is one of `when_values`."""

    column: str
    when_column: str
    when_values: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Dataset:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required_when: tuple[RequiredWhen, ...] = field(default=())
    doc: str = ""
    lineage_published: bool = True  # the snapshot shows each row's landing file and line
    #: The dataset -> event-time map: the columns that date a row, the first saying when it happened
    #: (what `orbit status` shows as "last row time"); a new or changed row touches the periods they fall in
    #: (DESIGN "Periods touched"). Empty: dated otherwise (targets name their period).
    event_times: tuple[str, ...] = ()
    #: The timestamp that dates a row as data of a period (which periods have data, and what a period's data
    #: covers): an opportunity is data of the period it closed in. None: not dated data (roster, targets).
    data_time: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


_DEPT = Column("department", "string", values=PLAN_DEPARTMENTS, reason="unknown_department",
               doc="department id (lowercase snake_case) listed in the plan")
_CCY = Column("currency", "string", regex=r"^[A-Z]{3}$", values=PLAN_CURRENCY, reason="currency_mismatch",
              doc="ISO 4217 code; must be the plan's currency")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "employees",
            key=("employee_id", "effective_from"),
            event_times=("effective_from",),
            doc="HR roster: one row per employee and validity interval",
            lineage_published=False,
            columns=(
                Column("employee_id", "string", doc="stable employee id"),
                Column("full_name", "string", doc="person's name (never published)", published=False),
                _DEPT,
                Column("role", "string", doc="role within the department, e.g. driver"),
                Column("fte", "decimal", min=0, max=1, strict_min=True, reason="out_of_range",
                       doc="full-time equivalent, 0 < fte <= 1"),
                Column("bonus_target", "money", min=0, reason="out_of_range",
                       doc="annual bonus target in the plan currency (never published)", published=False),
                replace(_CCY, published=False),
                Column("effective_from", "date", doc="first day this row is in force (inclusive)"),
                Column("manager_id", "string", required=False, nullable=True, doc="employee_id of the manager"),
                Column("effective_to", "date", required=False, nullable=True,
                       doc="last day in force (inclusive); empty = until the next row"),
            ),
        ),
        Dataset(
            "opportunities",
            key=("opportunity_id",),
            event_times=("created_at", "closed_at"),
            data_time="closed_at",
            doc="commercial opportunities (deals) and their outcome",
            columns=(
                Column("opportunity_id", "string", doc="stable opportunity id"),
                Column("customer_id", "string", doc="customer id"),
                Column("created_at", "timestamp", not_in_future=True, doc="when the opportunity was opened"),
                Column("stage", "string", values=STAGES, reason="invalid_value", doc="open | won | lost"),
                Column("amount", "money", min=0, reason="out_of_range", doc="deal amount, >= 0"),
                _CCY,
                Column("owner_employee_id", "string", doc="seller who owns the opportunity"),
                Column("source", "string", values=SOURCES, reason="invalid_value",
                       doc="marketing | referral | outbound | inbound | partner"),
                Column("closed_at", "timestamp", required=False, nullable=True, not_in_future=True,
                       doc="when it was won or lost"),
            ),
            required_when=(RequiredWhen("closed_at", "stage", CLOSED_STAGES, "closed_at_missing"),),
        ),
        Dataset(
            "activities",
            key=("event_id",),
            event_times=("occurred_at",),
            data_time="occurred_at",
            doc="what people did: one row per activity event",
            columns=(
                Column("event_id", "string", doc="stable event id"),
                Column("occurred_at", "timestamp", not_in_future=True, doc="when it happened"),
                Column("employee_id", "string", doc="who did it"),
                _DEPT,
                Column("activity_type", "string", doc="e.g. lead_handoff, first_contact, lead_referred"),
                Column("customer_id", "string", required=False, nullable=True, doc="customer concerned"),
                Column("opportunity_id", "string", required=False, nullable=True,
                       doc="opportunity touched (drives attribution)"),
                Column("quantity", "decimal", required=False, nullable=True, min=0, reason="out_of_range",
                       doc="how many (default 1)"),
                Column("value", "decimal", required=False, nullable=True, doc="free numeric value"),
            ),
        ),
        Dataset(
            "measurements",
            key=("measurement_id",),
            event_times=("measured_at",),
            data_time="measured_at",
            doc="KPI readings per employee, or per department when employee_id is empty",
            columns=(
                Column("measurement_id", "string", doc="stable measurement id"),
                Column("measured_at", "timestamp", not_in_future=True, doc="when it was measured"),
                _DEPT,
                Column("metric", "string", doc="KPI name, e.g. on_time_delivery"),
                Column("value", "decimal", doc="the reading"),
                Column("employee_id", "string", required=False, nullable=True,
                       doc="employee measured; empty = team figure"),
            ),
        ),
        Dataset(
            "feedback",
            key=("survey_id",),
            event_times=("responded_at",),
            data_time="responded_at",
            doc="customer satisfaction survey responses",
            columns=(
                Column("survey_id", "string", doc="stable survey response id"),
                Column("customer_id", "string", doc="customer who answered"),
                Column("responded_at", "timestamp", not_in_future=True, doc="when they answered"),
                Column("score", "decimal", min=0, max=10, reason="out_of_range", doc="score 0..10"),
                Column("employee_id", "string", required=False, nullable=True, doc="employee named"),
                Column("department", "string", required=False, nullable=True, values=PLAN_DEPARTMENTS,
                       reason="unknown_department", doc="department named"),
            ),
        ),
        Dataset(
            "targets",
            key=("period", "department", "employee_id", "metric"),
            doc="targets per period, department (and optionally employee) and plan metric",
            columns=(
                Column("period", "string", regex=r"^\d{4}-(?:0[1-9]|1[0-2]|Q[1-4])$", reason="invalid_value",
                       doc="2026-07 or 2026-Q3"),
                _DEPT,
                Column("metric", "string", doc="the plan's metric name"),
                Column("target", "decimal", doc="target value"),
                Column("employee_id", "string", required=False, nullable=True,
                       doc="employee; empty = every employee of the department"),
            ),
        ),
    )
}

#: Columns every loaded table carries besides the contract's own.
LINEAGE_COLUMNS = ("_file", "_line", "_sha256", "_loaded_at", "_row_hash", "extra")
#: The lineage columns the snapshot shows (when the dataset's ``lineage_published``), and what they hold.
PUBLISHED_LINEAGE = {"_file": "landing file the row came from", "_line": "line of the row in that file"}
