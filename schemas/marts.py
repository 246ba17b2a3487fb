"""The output contract: every table Orbit writes, declared exactly once.

As :mod:`schemas.contracts` declares the input datasets, this module declares the
output tables — the marts analysts read, the private bonus arithmetic, the operational
tables (ledger, quarantine, runs, periods, audit) and the snapshot's own tables. Each
column has a type, a nullability, a description and whether it may be published.

Everything else is derived from these declarations:

* the DuckDB DDL and the migration that adds a newly declared column to an existing
  home (:mod:`warehouse.db`);
* the polars schemas of the frames the transforms produce (:func:`frame_schema`);
* the writers' check that a frame carries exactly the declared columns
  (:func:`check_columns`, used by :mod:`warehouse.marts`);
* the publish allow-list and the data dictionary of the analysts' snapshot
  (:mod:`warehouse.publish`): a table or column is published only when declared so,
  which is what keeps names and money out of the snapshot.

Adding a column: declare it here (nullable, or with a ``default``, so that existing homes
can be extended), produce it in the transform; the next ``migrate`` adds it to existing
warehouses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import polars as pl

MartType = Literal["string", "int", "figure", "decimal", "money", "boolean", "date", "timestamp", "json"]

#: Figures (actuals, achievements, weights, composites, shares) are shown rounded half-up to this many decimals.
FIGURE_PLACES = 12

#: polars dtype of each declared type (DuckDB's are in :mod:`warehouse.db`).
POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.Utf8(),
    "int": pl.Int64(),
    "figure": pl.Decimal(38, FIGURE_PLACES),  # an exact figure, rounded for display
    "decimal": pl.Decimal(38, 9),  # as the input contract's decimals
    "money": pl.Decimal(18, 2),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us", "UTC"),
    "json": pl.Utf8(),
}

#: Columns the warehouse stamps on every row of an evaluation mart (the transforms do not produce them).
RUN_STAMPS = ("plan_version", "run_id")


@dataclass(frozen=True)
class MartColumn:
    name: str
    type: MartType
    doc: str
    nullable: bool = True
    published: bool = True  # may appear in the analysts' snapshot (when its table is published)
    default: str | bool | int | None = None  # value of the column when a row omits it
    sequence: str | None = None  # filled from this sequence when a row omits it

    def __post_init__(self) -> None:
        if not self.doc.strip():
            raise ValueError(f"column {self.name}: a description is required")
        if self.type not in POLARS_TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")

    @property
    def has_default(self) -> bool:
        return self.default is not None or self.sequence is not None


@dataclass(frozen=True)
class Mart:
    name: str
    doc: str
    columns: tuple[MartColumn, ...]
    published: bool = True  # the table is in the analysts' snapshot (its published columns only)
    stamps: tuple[str, ...] = ()  # columns the warehouse fills, not the transform
    primary_key: tuple[str, ...] = ()
    in_warehouse: bool = True  # False: a table that only the snapshot holds
    unpublished_reason: str = ""  # why a table is kept out of the snapshot

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: a column is declared twice")
        for extra in (*self.stamps, *self.primary_key):
            if extra not in names:
                raise ValueError(f"table {self.name}: {extra} is not one of its columns")
        if not self.doc.strip():
            raise ValueError(f"table {self.name}: a description is required")
        if not self.published and not self.unpublished_reason:
            raise ValueError(f"table {self.name}: say why it is not published")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def published_columns(self) -> list[MartColumn]:
        return [c for c in self.columns if c.published] if self.published else []

    def column(self, name: str) -> MartColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")


class ColumnMismatch(ValueError):
    """A frame written to a declared table does not carry exactly the declared columns."""

    def __init__(self, table: str, missing: Iterable[str], extra: Iterable[str]) -> None:
        self.table, self.missing, self.extra = table, sorted(missing), sorted(extra)
        parts = []
        if self.missing:
            parts.append(f"missing {', '.join(self.missing)}")
        if self.extra:
            parts.append(f"not declared {', '.join(self.extra)}")
        super().__init__(f"rows for {table} do not match its declaration (schemas/marts.py): {'; '.join(parts)}")


def _c(name: str, type: MartType, doc: str, **kw) -> MartColumn:
    return MartColumn(name, type, doc, **kw)


# Columns that mean the same in every table that has them.
_PERIOD = _c("period", "string", "evaluation period, 2026-07 (month) or 2026-Q3 (quarter), in the plan's timezone",
             nullable=False)
_EMPLOYEE = _c("employee_id", "string", "employee id", nullable=False)
_DEPARTMENT = _c("department", "string", "department (as of the employee's last employed day in the period)",
                 nullable=False)
_ROLE = _c("role", "string", "role (as of the employee's last employed day in the period)")
_METRIC = _c("metric", "string", "the plan's metric name", nullable=False)
_PLAN_VERSION = _c("plan_version", "string", "version of the plan that produced the row", nullable=False)
_RUN_ID = _c("run_id", "string", "the run that produced the row: a hash of its input files and plan",
             nullable=False)
_COMPOSITE_EXACT = _c("composite_exact", "string", "the exact composite, as an integer or p/q")
_MULTIPLIER_EXACT = _c("multiplier_exact", "string", "the exact payout multiplier, as an integer or p/q")
#: A period's coverage (transforms.coverage), on every row of its scores and in period_status.
_PARTIAL = _c("partial", "boolean", "true when the period's data does not cover all of it: the period has not "
                                    "ended (its last day is after today or after the latest data loaded) or its "
                                    "data starts after its first day")
_FIRST_DATA_DAY = _c("first_data_day", "date", "first day of the period with data (activities, closed "
                                               "opportunities, measurements, feedback), in the plan's timezone")
_LAST_DATA_DAY = _c("last_data_day", "date", "last day of the period with data, in the plan's timezone")
#: The columns evaluation adds to a period's scores from its coverage (not the scoring's own).
COVERAGE_COLUMNS = ("partial", "first_data_day", "last_data_day")
_INCOMPLETE = _c("incomplete", "boolean", "true when a metric was removed (no actual or no target)",
                 nullable=False)

MARTS: dict[str, Mart] = {
    m.name: m
    for m in (
        Mart(
            "evaluation_matrix",
            "one row per employee, period and metric: actual, target, achievement, weight",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD, _EMPLOYEE, _DEPARTMENT, _METRIC,
                _c("actual", "figure", "the employee's actual for the metric (rounded; exact in actual_exact); "
                                       "empty = no actual"),
                _c("target", "figure", "target in force (targets dataset: employee row, else department row, "
                                       "else the plan's default); empty = no target"),
                _c("achievement", "figure", "actual/target (higher) or target/actual (lower), clipped to "
                                            "[0, cap]; empty when the metric was removed"),
                _c("weight", "figure", "the plan's weight for the metric in the employee's weight row"),
                _c("weighted_score", "figure", "effective_weight x achievement; the composite is the sum over "
                                               "the employee's metrics (empty when removed)"),
                _PLAN_VERSION, _RUN_ID, _ROLE,
                _c("direction", "string", "higher or lower is better"),
                _c("cap", "figure", "achievement cap for the metric (the plan's, or the metric's own)"),
                _c("effective_weight", "figure", "weight after renormalising over the metrics kept (0 when "
                                                 "removed)"),
                _c("included", "boolean", "false when the metric was removed (no actual or no target)"),
                _c("reason", "string", "why the metric was removed: no_actual, no_target or "
                                       "no_actual_no_target"),
                _c("detail", "string", "how the actual was made, in words"),
                _c("target_source", "string", "where the target came from: employee, department or plan"),
                _c("actual_exact", "string", "the exact actual, as an integer or p/q"),
                _c("achievement_exact", "string", "the exact achievement, as an integer or p/q"),
                _c("effective_weight_exact", "string", "the exact effective weight, as an integer or p/q"),
                _c("weighted_score_exact", "string", "the exact weighted score, as an integer or p/q"),
                _c("when_missing", "string", "what the plan's missing-data policy did to this metric: renormalise "
                                             "(removed, weights renormalised), zero (counted as achievement 0) or "
                                             "hold (bonus held); empty when nothing was missing"),
            ),
        ),
        Mart(
            "employee_scores",
            "one row per employee and period: composite score, payout multiplier, completeness",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD, _EMPLOYEE, _DEPARTMENT, _ROLE,
                _c("composite", "figure", "sum of effective_weight x achievement (rounded; exact in "
                                          "composite_exact)", nullable=False),
                _c("payout_multiplier", "figure", "the payout curve at the exact composite (rounded; exact in "
                                                  "multiplier_exact)", nullable=False),
                _INCOMPLETE,
                _c("incomplete_reason", "string", "which metrics were removed and why"),
                _PLAN_VERSION, _RUN_ID, _COMPOSITE_EXACT, _MULTIPLIER_EXACT,
                _c("missing_policy", "string", "the missing-data treatments that changed the employee's result, "
                                               "strongest first (hold, zero, renormalise); empty when none did"),
                _PARTIAL, _FIRST_DATA_DAY, _LAST_DATA_DAY,
            ),
        ),
        Mart(
            "bonus_lines",
            "one row per employee and period: the bonus arithmetic, for HR's export and `orbit explain`",
            published=False,
            unpublished_reason="names and compensation: read only by HR's export and `orbit explain`",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD, _EMPLOYEE,
                _c("full_name", "string", "the employee's name", published=False),
                _DEPARTMENT, _ROLE,
                _c("composite_exact", "string", "the exact composite, as an integer or p/q", nullable=False),
                _c("multiplier_exact", "string", "the exact payout multiplier, as an integer or p/q",
                   nullable=False),
                _c("bonus_target", "money", "annual bonus target of the roster row in force on the last employed "
                                            "day", published=False),
                _c("period_share", "string", "the period's share of a year (1/12 a month, 1/4 a quarter)"),
                _c("fte_days", "decimal", "sum over the period's days of the fte in force (0 when not employed)"),
                _c("days_in_period", "int", "days in the period"),
                _c("bonus_amount", "money", "bonus_target x period_share x fte_days / days_in_period x "
                                            "multiplier, rounded half-up to cents", published=False),
                _c("currency", "string", "currency of the bonus (the plan's)"),
                _INCOMPLETE, _PLAN_VERSION, _RUN_ID,
                _c("incomplete_reason", "string", "which metrics were missing and what the plan did (HR's export "
                                                  "shows it in missing_data)"),
                _c("missing_policy", "string", "the missing-data treatments that changed the result, strongest "
                                               "first (hold, zero, renormalise); empty when none did"),
                _PARTIAL, _FIRST_DATA_DAY, _LAST_DATA_DAY,
            ),
        ),
        Mart(
            "revenue_funnel",
            "the revenue funnel per period, company-wide: leads handed over by marketing -> handoffs answered "
            "within the SLA -> opportunities closed -> win rate -> average won deal -> won revenue; each stage's "
            "figure, target and previous-period value, and its exact (LMDI) part of the gap to target and of the "
            "change from the previous period",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD,
                _c("step", "int", "the stage's place in the funnel, 1 (leads) to 6 (won revenue)", nullable=False),
                _c("stage", "string", "leads, answered, closed, win_rate, average_won_deal or won_revenue",
                   nullable=False),
                _c("label", "string", "the stage in words", nullable=False),
                _c("figure", "figure", "the stage's figure: a count (leads, answered, closed), a share (win_rate) "
                                       "or money (average_won_deal, won_revenue); empty when undefined (0/0)"),
                _c("factor", "figure", "the stage's factor: leads, answered/leads, closed/answered, won/closed, "
                                       "revenue/won (won revenue is their product); empty on won_revenue or 0/0"),
                _c("target_factor", "figure", "the plan's target for the factor (funnel.targets)"),
                _c("target_figure", "figure", "the figure the targets imply: counts are the product of the targets "
                                              "up to the stage; won revenue the product of all five (or the plan's "
                                              "won_revenue)"),
                _c("previous_figure", "figure", "the figure in the previous period (empty when it has no data)"),
                _c("previous_factor", "figure", "the factor in the previous period"),
                _c("contribution_to_gap", "money", "the stage's part of won revenue minus its target (LMDI, cents); "
                                                   "the stages add up exactly to the won_revenue row, which holds the "
                                                   "gap"),
                _c("contribution_to_change", "money", "the stage's part of the change from the previous period "
                                                      "(LMDI, cents); the stages add up exactly to the won_revenue "
                                                      "row, which holds the change"),
                _c("note", "string", "why the gap or the change is not split by stage, when it is not"),
                _PLAN_VERSION, _RUN_ID,
            ),
        ),
        Mart(
            "department_matrix",
            "mean achievement per department, period and metric",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD,
                _c("department", "string", "department", nullable=False),
                _METRIC,
                _c("mean_achievement", "figure", "mean achievement over the employees for whom the metric counted"),
                _c("employees", "int", "employees for whom the metric counted"),
                _PLAN_VERSION, _RUN_ID,
            ),
        ),
        Mart(
            "attribution_credits",
            "credit of each won opportunity's amount to the employees who touched it",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD,
                _c("opportunity_id", "string", "won opportunity credited", nullable=False),
                _EMPLOYEE,
                _c("department", "string", "department credited (the touching activity's; the owner's when "
                                           "no touch)", nullable=False),
                _c("model", "string", "attribution model", nullable=False),
                _c("credit", "money", "amount credited to the employee (cents; an opportunity's credits sum to "
                                      "its amount)", nullable=False),
                _c("share", "figure", "the employee's exact share of the opportunity's amount, rounded"),
                _PLAN_VERSION, _RUN_ID,
            ),
        ),
        Mart(
            "attribution_department_values",
            "department values (share, Shapley value or removal effect) per period and model",
            stamps=RUN_STAMPS,
            columns=(
                _PERIOD,
                _c("model", "string", "attribution model", nullable=False),
                _c("department", "string", "department", nullable=False),
                _c("value", "figure", "the department's value under the model (Shapley value, removal effect "
                                      "or share of credit)"),
                _PLAN_VERSION, _RUN_ID,
            ),
        ),
        Mart(
            "data_quality",
            "orphan references, unknown activity types and other data problems found at evaluation",
            stamps=("run_id",),
            columns=(
                _c("period", "string", "period concerned; empty = the whole data"),
                _c("check", "string", "data-quality check, e.g. unknown_employee, unknown_activity_type",
                   nullable=False),
                _c("dataset", "string", "dataset checked", nullable=False),
                _c("rows", "int", "rows failing the check (0 = passed)", nullable=False),
                _c("examples", "string", "a few failing values (for unknown_activity_type: the type)"),
                _RUN_ID,
            ),
        ),
        Mart(
            "ingestion_log",
            "one row per delivered file (per file and feed for a source's file): rows read, loaded, quarantined, "
            "duplicate, skipped",
            columns=(
                _c("seq", "int", "order in which files were ledgered", nullable=False, sequence="ingestion_seq"),
                _c("file", "string", "the delivered file, relative to landing/", nullable=False),
                _c("dataset", "string", "dataset it was delivered for"),
                _c("sha256", "string", "SHA-256 of the file's bytes", nullable=False),
                _c("rows_read", "int", "data rows read", nullable=False),
                _c("rows_loaded", "int", "rows loaded (new or changed)", nullable=False),
                _c("rows_quarantined", "int", "rows refused (see quarantine)", nullable=False),
                _c("rows_duplicate", "int", "rows identical to one already loaded or repeated in the file",
                   nullable=False),
                _c("status", "string", "loaded, rejected, duplicate_file (a copy, skipped) or waiting (a source's file "
                   "whose mapping is refused; the file stays in landing)", nullable=False),
                _c("message", "string", "why a file was rejected or skipped"),
                _c("file_mtime", "timestamp", "the file's modification time"),
                _c("ingested_at", "timestamp", "when it was ingested", nullable=False),
                _c("quarantined_to", "string", "where a rejected file was moved (under quarantine/files/)"),
                _c("rows_skipped", "int", "rows of a source's file that did not meet its feed's `when`; rows_read = "
                   "rows_loaded + rows_quarantined + rows_duplicate + rows_skipped", nullable=False, default=0),
                _c("mapping_sha256", "string", "a source's file: SHA-256 of the mapping it was read with (editing a "
                   "mapping never reinterprets loaded rows; a re-delivery under a changed one is a new delivery)"),
            ),
        ),
        Mart(
            "quarantine",
            "rows refused at ingest: where they were and why (raw values are not published)",
            columns=(
                _c("dataset", "string", "dataset of the refused row", nullable=False),
                _c("file", "string", "file the row came from", nullable=False),
                _c("sha256", "string", "SHA-256 of that file", nullable=False, published=False),
                _c("line", "int", "line of the row in that file"),
                _c("reason", "string", "reason code, e.g. bad_type, out_of_range, unknown_department",
                   nullable=False),
                _c("details", "string", "which field broke which rule"),
                _c("raw", "json", "the refused row's values", published=False),
                _c("quarantined_at", "timestamp", "when it was refused", nullable=False),
            ),
        ),
        Mart(
            "runs",
            "pipeline runs and their outcome",
            columns=(
                _c("run_id", "string", "hash of the run's input files and plan", nullable=False),
                _c("kind", "string", "what ran, e.g. evaluate", nullable=False),
                _c("started_at", "timestamp", "when it started", nullable=False),
                _c("finished_at", "timestamp", "when it finished"),
                _c("status", "string", "completed or failed", nullable=False),
                _c("periods", "string", "periods written, comma-separated"),
                _c("plan_version", "string", "version(s) of the plan(s) in force"),
                _c("message", "string", "closed periods kept, pending restatements"),
            ),
        ),
        Mart(
            "restatements",
            "changes to closed periods (figures, not money)",
            columns=(
                _PERIOD, _EMPLOYEE,
                _c("old_run_id", "string", "run of the figures before the restatement"),
                _c("new_run_id", "string", "run of the restated figures"),
                _c("old_composite", "figure", "composite before the restatement"),
                _c("new_composite", "figure", "composite after the restatement"),
                _c("old_bonus_amount", "money", "bonus amount before the restatement", published=False),
                _c("new_bonus_amount", "money", "bonus amount after the restatement", published=False),
                _c("difference", "money", "new_bonus_amount - old_bonus_amount", published=False),
                _c("reason", "string", "why HR reopened the period"),
                _c("restated_at", "timestamp", "when the period was reopened and restated"),
            ),
        ),
        Mart(
            "audit_log",
            "hash-chained log of closes, reopens and exports",
            published=False,
            unpublished_reason="HR's audit trail; checked with `orbit audit verify`",
            columns=(
                _c("seq", "int", "position in the chain", nullable=False),
                _c("logged_at", "string", "when (ISO 8601, UTC)", nullable=False),
                _c("actor", "string", "login name of who did it", nullable=False),
                _c("action", "string", "close_period, reopen_period, export_bonus, ...", nullable=False),
                _c("period", "string", "period concerned"),
                _c("run_id", "string", "run concerned"),
                _c("plan_version", "string", "plan version of that run"),
                _c("input_hashes", "string", "SHA-256 digest of the run's input files"),
                _c("output_sha256", "string", "SHA-256 of the file written"),
                _c("detail", "string", "what happened, in words"),
                _c("prev_hash", "string", "row_hash of the previous row"),
                _c("row_hash", "string", "SHA-256 of this row's content and prev_hash", nullable=False),
            ),
        ),
        Mart(
            "period_status",
            "open or closed periods; closed ones keep the closed run's results",
            primary_key=("period",),
            columns=(
                _c("period", "string", "evaluation period, 2026-07 (month) or 2026-Q3 (quarter)", nullable=False),
                _c("state", "string", "open or closed", nullable=False, default="open"),
                _c("closed_run_id", "string", "run whose results the closed period keeps"),
                _c("closed_at", "timestamp", "when the period was closed"),
                _c("closed_by", "string", "who closed it (login name)"),
                _c("pending_restatement", "boolean", "true when data that arrived after the close would change "
                                                     "the period's results", nullable=False, default=False),
                _c("pending_since", "timestamp", "when that was first seen"),
                _c("partial", "boolean", "true when the period's data does not cover all of it (see "
                                         "partial_reason); `orbit close` refuses it without --allow-partial",
                   nullable=False, default=False),
                _c("partial_reason", "string", "why the period is partial, e.g. it has not ended, or its data "
                                               "starts after its first day"),
                _FIRST_DATA_DAY, _LAST_DATA_DAY,
            ),
        ),
        Mart(
            "run_inputs",
            "the input files of each run (content addressing)",
            published=False,
            unpublished_reason="internal: lets close and export prove which inputs a run used",
            primary_key=("run_id",),
            columns=(
                _c("run_id", "string", "the run", nullable=False),
                _c("input_hashes", "string", "SHA-256 over the sorted SHA-256s of its input files", nullable=False),
            ),
        ),
        Mart(
            "run_failures",
            "runs that failed: kind, Prefect flow run id, when, error type and message",
            columns=(
                _c("kind", "string", "what failed: run, ingest, evaluate, ...", nullable=False),
                _c("flow_run_id", "string", "Prefect flow run id (its log is in the UI)"),
                _c("started_at", "timestamp", "when the run started", nullable=False),
                _c("failed_at", "timestamp", "when it failed", nullable=False),
                _c("error_type", "string", "the error's type", nullable=False),
                _c("message", "string", "the error's message (no data values)"),
            ),
        ),
        Mart(
            "snapshot_info",
            "this snapshot: its generation, time and row counts",
            in_warehouse=False,
            columns=(
                _c("generation", "int", "publish generation (the same in every row of one snapshot)"),
                _c("published_at", "timestamp", "when the snapshot was published"),
                _c("table_name", "string", "published table"),
                _c("rows", "int", "rows in the table in this snapshot"),
            ),
        ),
        Mart(
            "data_dictionary",
            "every table, view and column, described",
            in_warehouse=False,
            columns=(
                _c("table_name", "string", "table or view"),
                _c("column_name", "string", "column; empty for the table or view itself"),
                _c("type", "string", "DuckDB type of the column; 'table' or 'view' for the table itself"),
                _c("description", "string", "what it holds"),
            ),
        ),
    )
}


def frame_columns(table: str) -> list[str]:
    """The columns a transform produces for ``table``: its declared columns without the warehouse's stamps."""
    mart = MARTS[table]
    return [c for c in mart.column_names if c not in mart.stamps]


def frame_schema(*tables: str, exclude: Iterable[str] = ()) -> pl.Schema:
    """polars schema of the frame a transform produces for ``tables`` (several: the union of their columns,
    in declaration order, each once), without the warehouse's stamps and ``exclude``."""
    skip = set(exclude)
    schema: dict[str, pl.DataType] = {}
    for table in tables:
        mart = MARTS[table]
        for c in mart.columns:
            if c.name in mart.stamps or c.name in skip:
                continue
            dtype = POLARS_TYPES[c.type]
            if schema.setdefault(c.name, dtype) != dtype:
                raise ValueError(f"{c.name} has different types in {', '.join(tables)}")
    return pl.Schema(schema)


def check_columns(table: str, columns: Iterable[str]) -> None:
    """Raise :class:`ColumnMismatch` naming the missing and the undeclared columns unless ``columns`` are
    exactly the declared columns of ``table`` (one with a default may be left out)."""
    mart = MARTS[table]
    have, want = set(columns), set(mart.column_names)
    optional = {c.name for c in mart.columns if c.has_default}
    missing, extra = want - have - optional, have - want
    if missing or extra:
        raise ColumnMismatch(table, missing, extra)


def published_tables() -> list[Mart]:
    """The declared tables an analyst's snapshot copies from the warehouse."""
    return [m for m in MARTS.values() if m.published and m.in_warehouse]
