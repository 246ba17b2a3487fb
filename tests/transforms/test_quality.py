import polars as pl

from schemas.derive import polars_schema
from transforms.quality import find_orphans


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
