"""The README's example queries, run as written against the snapshot of a company run through the real
pipeline (closed periods, a restatement): each must parse, run and return rows."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from warehouse.home import Home

README = Path(__file__).resolve().parents[2] / "README.md"
END = dt.date(2026, 9, 30)


def readme_queries() -> list[str]:
    """The statements of the README's ```sql block that follows "Examples" (each after its comment)."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"Examples[^\n]*:\s*```sql\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sql block after 'Examples'"
    statements = [s.strip() for s in block.group(1).split(";")]
    return [s for s in statements if re.sub(r"--[^\n]*", "", s).strip()]


def test_the_readme_has_the_example_queries():
    queries = readme_queries()
    assert len(queries) >= 4
    assert all("SELECT" in q.upper() for q in queries)


@pytest.fixture(scope="module")
def snapshot(prefect_harness, default_plans, tmp_path_factory) -> Path:
    from flows.close import close_flow, reopen_flow
    from flows.run import run_flow
    from orbit.synth import generate_org, write_org

    home = Home(tmp_path_factory.mktemp("readme") / "home").ensure()
    frames = generate_org(employees=40, months=9, seed=5, end_date=END, plan=default_plans.base, bad_rows=0.01)
    write_org(frames, home.landing, end_date=END)
    run_flow(home, default_plans)
    close_flow(home, "2026-Q2")
    reopen_flow(home, default_plans, "2026-Q2", "late logistics file")
    close_flow(home, "2026-Q2")
    close_flow(home, "2026-Q3")
    return home.published


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(readme_queries())))
def test_each_readme_query_returns_rows(snapshot, index):
    query = readme_queries()[index]
    with duckdb.connect(str(snapshot), read_only=True) as con:
        rows = con.execute(query).fetchall()
    assert rows, f"README query returned no rows:\n{query}"
