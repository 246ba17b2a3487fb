import datetime as dt
from pathlib import Path

import polars as pl

from schemas.derive import polars_schema
from schemas.plan import PlanSet
from tests import tiny_org
from transforms.quality import (
    closest_known_type,
    find_orphans,
    find_problems,
    unknown_activity_types,
    unknown_types,
    unused_plan_activity_types,
)


def _frames(**given):
    frames = {name: pl.DataFrame(schema=polars_schema(name)) for name in
              ("employees", "opportunities", "activities", "measurements", "feedback", "targets")}
    for name, rows in given.items():
        frames[name] = pl.DataFrame(rows, schema={k: polars_schema(name)[k] for k in rows[0]}).pipe(
            lambda f, n=name: f.with_columns([pl.lit(None, d).alias(c) for c, d in polars_schema(n).items()
                                              if c not in f.columns]).select(list(polars_schema(n))))
    return frames


def test_find_orphans_counts_unresolved_references():
    frames = _frames(
        employees=[{"employee_id": "E1"}],
        activities=[{"employee_id": "E1", "opportunity_id": "O9"}, {"employee_id": "E7", "opportunity_id": None}],
        targets=[{"metric": "bogus", "employee_id": None}],
    )
    q = {(r["check"], r["dataset"]): r for r in find_orphans(frames, ["csat"]).to_dicts()}
    assert q[("unknown_employee", "activities")]["rows"] == 1
    assert q[("unknown_employee", "activities")]["examples"] == "E7"
    assert q[("unknown_opportunity", "activities")]["rows"] == 1
    assert q[("unknown_plan_metric", "targets")]["rows"] == 1
    assert q[("unknown_owner", "opportunities")]["rows"] == 0


# --------------------------------------------------------------------------- activity types that pay nothing
UTC = dt.timezone.utc


def _plans(tmp_path: Path, *versions: tuple[str, str, str]) -> PlanSet:
    """Tiny plans (version, effective_from, what its `referrals` metric counts) in one folder."""
    for version, start, counted in versions:
        text = (tiny_org.PLAN_YAML.replace('version: "2026.1"', f'version: "{version}"')
                .replace("effective_from: 2024-01-01", f"effective_from: {start}")
                .replace("activity_types: [lead_referred]", f"activity_types: [{counted}]"))
        (tmp_path / f"{version}.yaml").write_text(text, encoding="utf-8")
    return PlanSet.load(tmp_path)


def _activities(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame([{"occurred_at": dt.datetime.fromisoformat(at).replace(tzinfo=UTC), "activity_type": t}
                         for at, t in rows], schema={k: polars_schema("activities")[k]
                                                     for k in ("occurred_at", "activity_type")})


def test_a_type_neither_the_engine_nor_the_plan_in_force_counts_is_reported_per_period(tmp_path):
    # from 2026-04-01 the plan counts `site_visit`; before, it counted lead_referred only
    plans = _plans(tmp_path, ("2026.1", "2024-01-01", "lead_referred"), ("2026.2", "2026-04-01", "site_visit"))
    acts = _activities(
        ("2026-02-01T10:00", "Ticket_Resolved"), ("2026-02-02T10:00", "Ticket_Resolved"),
        ("2026-05-01T10:00", "Ticket_Resolved"),
        ("2026-02-03T10:00", "site_visit"), ("2026-05-03T10:00", "site_visit"),  # counted from Q2 only
        ("2026-02-04T10:00", "ticket_resolved"), ("2026-02-05T10:00", "lead_handoff"),  # the engine's
        ("2026-04-01T02:00", "site_visit"),  # 31 March 21:00 in Bogota: still Q1
    )
    found = unknown_activity_types(acts, plans)
    assert found.rows() == [
        ("2026-Q1", "unknown_activity_type", "activities", 2, "Ticket_Resolved"),
        ("2026-Q1", "unknown_activity_type", "activities", 2, "site_visit"),
        ("2026-Q2", "unknown_activity_type", "activities", 1, "Ticket_Resolved"),
    ]
    [ticket, visit] = unknown_types(found, plans.plans)
    assert ticket.message() == ("activity type 'Ticket_Resolved' pays nothing: 3 row(s) (2026-Q1: 2, 2026-Q2: 1) "
                                "that neither the engine nor the plan counts; did you mean 'ticket_resolved'?")
    assert (visit.rows, visit.periods, visit.did_you_mean) == (2, {"2026-Q1": 2}, None)


def test_nothing_is_reported_when_every_type_is_counted(tmp_path):
    plans = _plans(tmp_path, ("2026.1", "2024-01-01", "lead_referred"))
    assert unknown_activity_types(_activities(("2026-02-01T10:00", "meeting_held")), plans).height == 0
    assert unknown_activity_types(_activities(), plans).height == 0


def test_find_problems_holds_the_orphans_and_the_unknown_types(tmp_path):
    plans = _plans(tmp_path, ("2026.1", "2024-01-01", "lead_referred"))
    frames = _frames(employees=[{"employee_id": "E1"}], activities=[
        {"employee_id": "E1", "occurred_at": dt.datetime(2026, 2, 1, 15, tzinfo=UTC), "activity_type": "Call"}])
    q = find_problems(frames, plans)
    assert q.filter(pl.col("check") == "unknown_activity_type").rows() == [
        ("2026-Q1", "unknown_activity_type", "activities", 1, "Call")]
    assert q.filter(pl.col("check") == "unknown_employee", pl.col("dataset") == "activities")["rows"].to_list() == [0]


def test_a_plan_type_no_activity_carries_is_named(tmp_path):
    plans = _plans(tmp_path, ("2026.1", "2024-01-01", "Lead_Referred"))
    acts = _activities(("2026-02-01T10:00", "lead_referred"), ("2026-02-01T11:00", "ticket_resolved"))
    assert unused_plan_activity_types(acts, plans.plans) == [
        "plan 2026.1, metric referrals: no loaded activity has type 'Lead_Referred'; did you mean 'lead_referred'?"]
    assert unused_plan_activity_types(_activities(("2026-02-01T10:00", "Lead_Referred"),
                                                  ("2026-02-01T11:00", "ticket_resolved")), plans.plans) == []


def test_closest_known_type_folds_case_spaces_and_punctuation():
    assert closest_known_type("Ticket_Resolved") == "ticket_resolved"
    assert closest_known_type(" ticket-resolved ") == "ticket_resolved"
    assert closest_known_type("ticket_resolved") is None  # itself
    assert closest_known_type("tickets_resolved") is None
