"""`orbit sources`: list the source mappings, dry-run one on a file, start one from a preset.

Presentation only: the mapping contract is :mod:`schemas.sources`, reading and mapping files
:mod:`warehouse.sources`. None of these verbs writes the warehouse; `check` writes nothing at all.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated

import typer

from warehouse.home import Home

app = typer.Typer(help="Source mappings: read real exports (CRM, HR, ticketing, Excel) into the datasets.",
                  no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"orbit: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(2)


def _rel(home: Home, path: Path) -> str:
    try:
        return str(path.relative_to(home.root))
    except ValueError:
        return str(path)


def _table(rows: list[tuple], headers: list[str], indent: str = "  ") -> str:
    cells = [headers] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(indent + line for line in lines)


def _ledger(home: Home, folder: str) -> dict:
    from warehouse.sources import read_source_ledger

    return read_source_ledger([home.warehouse, home.published], folder)


@app.command("list")
def list_sources() -> None:
    """Each source: its mapping, its folder and the files waiting in it (with why)."""
    from schemas.sources import MappingError
    from warehouse.landing import list_landed, sha256_of
    from warehouse.sources import load_sources

    home = Home.from_env()
    sources = load_sources(home.sources)
    if not sources:
        typer.echo(f"no source mappings in {home.sources}/; start one with "
                   "`orbit sources init NAME --preset PRESET` (`orbit sources init --help` lists the presets)")
        return
    landed = list_landed(home.landing)
    for name, source in sources.items():
        folder = home.landing / name
        state = "refused" if isinstance(source, MappingError) else "valid"
        typer.echo(f"{name}: {_rel(home, home.sources / (name + '.yaml'))} ({state}) -> {_rel(home, folder)}/")
        if isinstance(source, MappingError):
            for line in str(source).splitlines():
                typer.echo(f"    {line}")
        ledger = _ledger(home, name)
        files = [f for f in landed if f.folder == name and f.path.parent == folder]
        waiting = []
        for f in files:
            status, message, mapping = ledger.get((f.name, sha256_of(f.path)), (None, None, None))
            if status is None:
                waiting.append((f.path.name, "new: the next `orbit ingest` loads it"))
            elif status == "waiting":
                waiting.append((f.path.name, (message or "").splitlines()[-1]))
            elif not isinstance(source, MappingError) and mapping and mapping != source.sha256:
                waiting.append((f.path.name, "loaded under an earlier version of the mapping (deliver it again "
                                             "to load it under this one)"))
        typer.echo(f"  files: {len(files)}, waiting: {len(waiting)}")
        for file, why in waiting:
            typer.echo(f"    {file}: {why}")


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="the source (its mapping is $ORBIT_HOME/sources/NAME.yaml)")],
    file: Annotated[Path | None, typer.Argument(help="a file to try (default: the newest in landing/NAME/)")] = None,
    rows: Annotated[int, typer.Option("--rows", min=0, max=100, help="mapped rows to show per feed")] = 5,
    plan: Annotated[Path | None, typer.Option("--plan", help="plan file or folder (default: $ORBIT_PLAN or plans/default.yaml)")] = None,
) -> None:
    """Dry run: map a file as `orbit ingest` would and show the headers each contract column matched, the
    first mapped rows and how many rows would be quarantined or skipped, by reason. Writes nothing.
    Exit 0 when the mapping is valid for the file, 2 when it is not."""
    from schemas.contracts import DATASETS
    from schemas.plan import PlanError, PlanSet
    from schemas.sources import MappingError, load_mapping
    from schemas.suites import suite_rules
    from warehouse.home import plan_path
    from warehouse.landing import RejectedFile
    from warehouse.sources import MappingRefused, dry_run, newest_file

    home = Home.from_env()
    path = home.sources / f"{name}.yaml"
    if not path.exists():
        raise _fail(f"no mapping {_rel(home, path)}; `orbit sources init {name} --preset P` starts one")
    try:
        source = load_mapping(path)
    except MappingError as e:
        raise _fail(f"the mapping is refused:\n{e}") from None
    try:
        plans = PlanSet.load(plan_path(plan))
    except PlanError as e:
        raise _fail(f"bad plan:\n{e}") from None
    typer.echo(f"Source {name}: {_rel(home, path)} (mapping hash {source.sha256[:12]})")
    target = file or newest_file(home.landing / name)
    if target is None:
        typer.echo(f"The mapping is valid. No file to try it on: deliver one to {_rel(home, home.landing / name)}/ "
                   f"or name one: `orbit sources check {name} FILE`.")
        _echo_yours(home, source)
        return
    if not target.is_file():
        raise _fail(f"no file {target}")
    now = dt.datetime.now(dt.timezone.utc)
    base = plans.base

    def rules_for(dataset: str):
        return suite_rules(DATASETS[dataset], departments=plans.departments, currency=base.currency, now=now)

    try:
        result = dry_run(source, target, f"{name}/{target.name}", rules_for, base.timezone, sample=rows)
    except MappingRefused as e:
        typer.echo(f"File: {_rel(home, target)}")
        _echo_yours(home, source)
        raise _fail(f"the mapping does not fit this file; `orbit ingest` would leave it waiting:\n{e}") from None
    except RejectedFile as e:
        raise _fail(f"the file cannot be read; `orbit ingest` would reject it: {e}") from None
    typer.echo(f"File: {_rel(home, target)} ({len(result.header)} columns)")
    for n, feed in enumerate(result.feeds):
        rule_of = source.mapping.feeds[n].columns
        typer.echo(f"\nFeed {n + 1} -> {feed.dataset}"
                   + (f" (when: {_when_text(source.mapping.feeds[n].when)})" if source.mapping.feeds[n].when else ""))
        typer.echo(_table([(col, _from_text(rule_of[col], feed.matched[col])) for col in feed.columns],
                          ["contract column", "from the file"]))
        if feed.extra:
            typer.echo(f"  kept in `extra`: {', '.join(feed.extra)}")
        e = feed.entry
        typer.echo(f"  rows: read {e.rows_read:,}, would load {e.rows_loaded:,}, quarantine {e.rows_quarantined:,}, "
                   f"duplicate {e.rows_duplicate:,}, skip {e.rows_skipped:,} (not meeting `when`)")
        if feed.reasons:
            typer.echo("  would quarantine: " + ", ".join(f"{r} {c:,}" for r, c in feed.reasons))
        for what, count in feed.unmapped:
            column = what.split(" (", 1)[0]
            typer.echo(f"    {what}: {count:,} row(s) — add it to the map at {_rel(home, source.path)}:"
                       f"{source.line_of('feeds', str(n), 'columns', column)}")
        if feed.rows:
            typer.echo("  first mapped rows:")
            typer.echo(_table([tuple(_cell(v) for v in r) for r in feed.rows], feed.columns, indent="    "))
    _echo_yours(home, source)
    typer.echo("\nThe mapping is valid for this file (nothing was written).")


def _when_text(when) -> str:
    parts = [f"{c} not blank" for c in when.not_blank]
    parts += [f"{c} in {list(v)}" if len(v) > 1 else f"{c} = {v[0]!r}" for c, v in when.equals.items()]
    return " and ".join(parts)


def _from_text(rule, headers: tuple[str, ...]) -> str:
    if rule.value is not None:
        return f"constant {rule.value!r}"
    text = (f" {rule.join!r} ".join(headers) if rule.join is not None else " or else ".join(repr(h) for h in headers))
    if rule.map is not None:
        text += f", mapped ({len(rule.map)} values)"
    if rule.default is not None:
        text += f", blank -> {rule.default!r}"
    if rule.when is not None:
        text += f", only when {_when_text(rule.when)}"
    return text


def _cell(v) -> str:
    if isinstance(v, dt.datetime):
        return v.isoformat().replace("+00:00", "Z")
    return "" if v is None else str(v)


def _echo_yours(home: Home, source) -> None:
    if source.yours:
        typer.echo("\nValues in your own words (marked `# YOURS:` in the mapping; check each against your export):")
        for line, text in source.yours:
            typer.echo(f"  {_rel(home, source.path)}:{line}: {text.removeprefix('YOURS:').strip()}")


@app.command("init")
def init(
    name: Annotated[str, typer.Argument(help="the new source's name (its files go to landing/NAME/)")],
    preset: Annotated[str, typer.Option("--preset", help="the preset to start from (see the list below)")],
    force: Annotated[bool, typer.Option("--force", help="replace an existing mapping of that name")] = False,
) -> None:
    """Copy a preset into $ORBIT_HOME/sources/NAME.yaml and create landing/NAME/. Presets:
    salesforce-opportunities, hubspot-deals, pipedrive-deals, zendesk-tickets, bamboohr-employees."""
    from schemas.sources import check_source_name, presets

    home = Home.from_env()
    known = presets()
    if preset not in known:
        raise _fail(f"unknown preset {preset!r}; presets: {', '.join(known)}")
    problem = check_source_name(name)
    if problem:
        raise _fail(problem)
    target = home.sources / f"{name}.yaml"
    if target.exists() and not force:
        raise _fail(f"{_rel(home, target)} exists; --force replaces it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(known[preset], target)
    (home.landing / name).mkdir(parents=True, exist_ok=True)
    typer.echo(f"wrote {_rel(home, target)} (from preset {preset}); deliver files to {_rel(home, home.landing / name)}/")
    typer.echo(f"next: edit the values marked `# YOURS:`, then `orbit sources check {name}` on a file")
