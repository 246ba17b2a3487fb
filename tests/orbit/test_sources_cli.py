"""`orbit sources list | check | init`: exit status, what they show, and that check writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from orbit.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "sources"
runner = CliRunner()


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_init_check_and_list(home):
    r = runner.invoke(app, ["sources", "init", "sf", "--preset", "salesforce-opportunities"])
    assert r.exit_code == 0, r.output
    assert (home.sources / "sf.yaml").is_file() and (home.landing / "sf").is_dir()
    assert runner.invoke(app, ["sources", "init", "sf", "--preset", "hubspot-deals"]).exit_code == 2  # exists
    assert "'employees' is a dataset" in runner.invoke(
        app, ["sources", "init", "employees", "--preset", "hubspot-deals"]).output
    assert "unknown preset 'x'" in runner.invoke(app, ["sources", "init", "a", "--preset", "x"]).output

    r = runner.invoke(app, ["sources", "check", "sf"])  # no file yet: the mapping alone
    assert r.exit_code == 0 and "The mapping is valid. No file to try it on" in r.output

    shutil.copy(SAMPLES / "salesforce-opportunities.csv", home.landing / "sf" / "report1.csv")
    before = _files(home.root)
    r = runner.invoke(app, ["sources", "check", "sf", "--rows", "2"])
    assert r.exit_code == 0, r.output
    assert _files(home.root) == before  # a dry run: nothing written
    assert "owner_employee_id  'Opportunity Owner'" in r.output
    assert "rows: read 8, would load 6, quarantine 2, duplicate 0, skip 0" in r.output
    assert "would quarantine: currency_mismatch 1, unmapped_value 1" in r.output
    assert "source ('Trade Show' is not in its map): 1 row(s) — add it to the map at sources/sf.yaml:" in r.output
    assert "Cancity - GTX Plus" in r.output and "Zumgoity expansion" not in r.output  # --rows 2
    assert "sources/sf.yaml:6:" in r.output  # the values that need the user's own words

    r = runner.invoke(app, ["sources", "list"])
    assert r.exit_code == 0 and "sf: sources/sf.yaml (valid) -> landing/sf/" in r.output
    assert "report1.csv: new: the next `orbit ingest` loads it" in r.output


def test_check_exits_2_when_the_mapping_does_not_fit_or_is_refused(home):
    runner.invoke(app, ["sources", "init", "hs", "--preset", "hubspot-deals"])
    other = home.root / "other.csv"
    other.write_text("Id,Name\n1,x\n", encoding="utf-8")
    r = runner.invoke(app, ["sources", "check", "hs", str(other)])
    assert r.exit_code == 2
    assert "the mapping does not fit this file" in r.output
    assert "sources/hs.yaml:" in r.output and "no column 'Record ID' in hs/other.csv" in r.output

    (home.sources / "hs.yaml").write_text("feeds:\n  - dataset: opportunities\n    columns: {stage: Stage}\n")
    r = runner.invoke(app, ["sources", "check", "hs"])
    assert r.exit_code == 2 and "hs.yaml:3: feeds.0.columns: required column(s) of opportunities" in r.output
    assert "(refused)" in runner.invoke(app, ["sources", "list"]).output
    assert runner.invoke(app, ["sources", "check", "nope"]).exit_code == 2


def test_every_sources_verb_has_help():
    for verb in ("list", "check", "init"):
        r = runner.invoke(app, ["sources", verb, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output


def test_list_says_which_files_were_loaded_under_an_earlier_mapping(home):
    import datetime as dt

    from schemas.contracts import DATASETS
    from schemas.sources import load_mapping
    from schemas.suites import suite_rules
    from warehouse.db import open_warehouse
    from warehouse.landing import sha256_of
    from warehouse.load import LedgerEntry
    from warehouse.sources import load_source_file

    runner.invoke(app, ["sources", "init", "zd", "--preset", "zendesk-tickets"])
    path = home.landing / "zd" / "tickets.csv"
    shutil.copy(SAMPLES / "zendesk-tickets.csv", path)
    now = dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc)
    with open_warehouse(home.warehouse) as con:
        entry = LedgerEntry("zd/tickets.csv", None, sha256_of(path), 0, 0, 0, 0, "loaded", None, None)
        load_source_file(con, entry, path, load_mapping(home.sources / "zd.yaml"),
                         lambda d: suite_rules(DATASETS[d], departments=["customer_service"], currency="EUR", now=now),
                         "UTC")
    assert "files: 1, waiting: 0" in runner.invoke(app, ["sources", "list"]).output
    text = (home.sources / "zd.yaml").read_text().replace("{Good: 10, Bad: 0}", "{Good: 9, Bad: 1}")
    (home.sources / "zd.yaml").write_text(text)
    out = runner.invoke(app, ["sources", "list"]).output
    assert "tickets.csv: loaded under an earlier version of the mapping" in out
