"""Source mappings in the warehouse: a real export read, mapped to the contract and loaded.

A source's file is read as text (its `read` options: encoding, delimiter, sheet, rows above
the header) with its columns named by position, then each feed of the mapping becomes one
SELECT over those text rows (:func:`feed_sql`): the contract columns it fills (source columns,
the first non-blank of several, `map`, `default`, constants; numbers with decimal commas or
thousands separators and dates in the mapping's `date_formats` rewritten in the contract's
ISO form), the unused columns (they go to `extra`), whether the row meets `when` (``_skip``)
and the values missing from a `map` (``_unmapped``). That SELECT feeds the very same casting,
checks, quarantine, ledger and upsert as a dataset file (:func:`warehouse.load.load_typed`),
inside DuckDB, in the same pass that casts.

All the feeds of one file are loaded in one transaction, each with its own ledger row
(file, dataset, rows_skipped, the mapping's hash).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from schemas.contracts import DATASETS, Column, Dataset
from schemas.sources import MappingError, ResolvedFeed, Source, load_mapping, resolve
from warehouse.db import transaction
from warehouse.ingest_sql import _TIMESTAMP, _strip, raw_json_sql, typed_sql
from warehouse.landing import ReadOptions, drop_rows, load_rows
from warehouse.load import LedgerEntry, load_typed, log_entry
from warehouse.rules import failing_sql
from warehouse.sql import ident, literal

#: Columns every feed's rows carry besides the contract's and the unused source columns.
_SKIP, _UNMAPPED = "_skip", "_unmapped"
_SEP = "chr(31)"


class MappingRefused(Exception):
    """The mapping cannot be applied to this file (a header it names is missing or ambiguous, or the
    mapping itself is invalid): the file waits in landing/<source>/ until the mapping is fixed."""


def source_path(sources_dir: Path, name: str) -> Path:
    return sources_dir / f"{name}.yaml"


def load_sources(sources_dir: Path) -> dict[str, Source | MappingError]:
    """Every mapping under ``$ORBIT_HOME/sources/``: the validated source, or why it is refused."""
    out: dict[str, Source | MappingError] = {}
    if sources_dir.is_dir():
        for path in sorted(sources_dir.glob("*.yaml")) + sorted(sources_dir.glob("*.yml")):
            try:
                out[path.stem] = load_mapping(path)
            except MappingError as e:
                out[path.stem] = e
    return out


def read_options(source: Source, path: Path) -> ReadOptions:
    r = source.mapping.read
    return ReadOptions(format=source.format_of(path), encoding=r.encoding, delimiter=r.delimiter,
                       skip_rows=r.skip_rows, sheet=r.sheet, positional=True)


# ------------------------------------------------------------------------------------------------- SQL
def _text(i: int) -> str:
    """The trimmed, non-blank text of source column i (NULL when blank): computed once per row by
    :func:`feed_sql`'s inner SELECT."""
    return f"t{i}"


def _number_sql(x: str, decimal_comma: bool, fmt: str) -> str:
    """Numbers as exports write them, in the contract's form: a currency sign before or after and spaces
    between digit groups dropped, thousands separators dropped; with ``decimal_comma`` a comma is the
    decimal mark. Anything else is left as it is (and fails the cast: never a guess)."""
    plain = "[+-]?\\d+(\\.\\d+)?"
    if decimal_comma:
        # a spreadsheet's number cells arrive as 1234.5 whatever the locale: only text with a comma is rewritten
        grouped = "[+-]?\\d{1,3}(\\.\\d{3})+(,\\d+)?" if fmt != "xlsx" else "[+-]?\\d{1,3}(\\.\\d{3})+,\\d+"
        plain = plain if fmt == "xlsx" else "[+-]?\\d+"
    y = f"regexp_replace({x}, '^[$€£¥]\\s*|\\s*[$€£¥]$|(\\d)[ \u00a0\u202f](\\d)', '\\1\\2', 'g')"
    if not decimal_comma:
        rewrite = (f"CASE WHEN regexp_full_match({y}, '[+-]?\\d{{1,3}}(,\\d{{3}})+(\\.\\d+)?') THEN replace({y}, ',', '') "
                   f"WHEN regexp_full_match({y}, '{plain}') THEN {y} ELSE {x} END")
    else:
        rewrite = (f"CASE WHEN regexp_full_match({y}, '{grouped}') THEN replace(replace({y}, '.', ''), ',', '.') "
                   f"WHEN regexp_full_match({y}, '[+-]?\\d+,\\d+') THEN replace({y}, ',', '.') "
                   f"WHEN regexp_full_match({y}, '{plain}') THEN {y} ELSE {x} END")
    return f"CASE WHEN {x} IS NULL OR regexp_full_match({x}, '{plain}') THEN {x} ELSE {rewrite} END"


def _formats(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join(literal(f) for f in formats) + "]"


def _parsed(x: str, formats: tuple[str, ...], out: str) -> str:
    """``x`` parsed by the first of ``formats`` that fits and written as ``out`` (NULL if none fits). DuckDB's
    %Y also takes a two-digit year (17 -> year 0017): formats with %y are tried first (%y never takes four
    digits), and a year before 1000 counts as not parsed."""
    ordered = tuple(f for f in formats if "%y" in f) + tuple(f for f in formats if "%y" not in f)
    p = f"try_strptime({x}, {_formats(ordered)})"
    return f"CASE WHEN year({p}) >= 1000 THEN strftime({p}, {literal(out)}) END"


def _date_sql(x: str, formats: tuple[str, ...]) -> str:
    """A date as YYYY-MM-DD: ISO as it is, a midnight timestamp (a spreadsheet's date cell) cut to its
    date, else the first of ``formats`` that parses; text that none parses is left as it is (and fails)."""
    parsed = f"{_parsed(x, formats, '%Y-%m-%d')}, " if formats else ""
    return (f"CASE WHEN regexp_full_match({x}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') THEN {x} "
            f"WHEN regexp_full_match({x}, '\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]00:00(:00(\\.0+)?)?') THEN {x}[1:10] "
            f"ELSE coalesce({parsed}{x}) END")


def _timestamp_sql(x: str, formats: tuple[str, ...]) -> str:
    """A timestamp in ISO 8601 as it is (a plain date is midnight; a space before the offset, as some
    exports write it, is dropped), else the first of ``formats`` that parses, written without an offset
    (read in the source's timezone); text that nothing parses is left as it is (and fails the cast).
    Each value is parsed once (the branches are evaluated lazily)."""
    spaced = f"regexp_replace({x}, ' ([+-]\\d{{2}}:?\\d{{2}}|[zZ])$', '\\1')"
    parsed = f"{_parsed(x, formats, '%Y-%m-%d %H:%M:%S.%f')}, " if formats else ""
    return (f"CASE WHEN regexp_full_match({x}, '{_TIMESTAMP}') THEN {x} "
            f"ELSE coalesce({parsed}CASE WHEN regexp_full_match({spaced}, '{_TIMESTAMP}') THEN {spaced} END, {x}) END")


_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H:%M:%S.%f")


def _time_sql(x: str) -> str:
    """A time of day as HH:MM:SS (a spreadsheet's time value arrives as 14:30:00); NULL if it does not parse."""
    return f"strftime(try_strptime({x}, {_formats(_TIME_FORMATS)}), '%H:%M:%S')"


def _value_sql(rf: ResolvedFeed, col: Column, fmt: str, decimal_comma: bool,
               formats: tuple[str, ...]) -> tuple[str, str | None]:
    """(text of the contract column, predicate naming an unmapped value or None) for one mapped column."""
    rule = rf.feed.columns[col.name]
    if rule.value is not None:
        return literal(rule.value), None
    texts = [_text(rf.index[c]) for c in rule.from_]
    if rule.join is not None and len(texts) > 1:
        value = f"NULLIF(concat_ws({literal(rule.join)}, {', '.join(texts)}), '')"
    else:
        value = texts[0] if len(texts) == 1 else f"coalesce({', '.join(texts)})"
    unmapped = None
    if rule.map is not None:
        keys = ", ".join(literal(k) for k in rule.map)
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in rule.map.items())
        unmapped = f"({value} IS NOT NULL AND {value} NOT IN ({keys}))" if rule.map else f"({value} IS NOT NULL)"
        value = f"CASE {value} {cases} ELSE {value} END" if rule.map else value
    if rule.default is not None:
        value = f"coalesce({value}, {literal(rule.default)})"
    if col.type in ("decimal", "money", "int"):
        value = _number_sql(value, decimal_comma, fmt)
    elif col.type == "date":
        value = _date_sql(value, formats)
    elif col.type == "timestamp":
        if rule.time:
            day = _date_sql(value, formats)
            clock = _time_sql(_text(rf.index[rule.time]))
            value = f"CASE WHEN {clock} IS NULL THEN {day} ELSE {day} || ' ' || {clock} END"
        else:
            value = _timestamp_sql(value, formats)
    if rule.when:
        value = f"CASE WHEN {_when_sql(rf, rule.when)} THEN {value} END"
        unmapped = f"({_when_sql(rf, rule.when)} AND {unmapped})" if unmapped else None
    return value, unmapped


def _when_sql(rf: ResolvedFeed, when) -> str:
    """True on rows meeting ``when`` (every condition given holds), never NULL."""
    conditions = [f"{_text(rf.index[c])} IS NOT NULL" for c in when.not_blank]
    for c, values in when.equals.items():
        text = _text(rf.index[c])
        wanted = [v.strip() for v in values]
        parts = ([f"{text} IN ({', '.join(literal(v) for v in wanted if v)})"] if any(wanted) else []) + \
            ([f"{text} IS NULL"] if "" in wanted else [])
        conditions.append("(" + " OR ".join(parts) + ")")
    return f"coalesce({' AND '.join(conditions)}, false)" if conditions else "true"


def extra_names(header: list[str], unused: tuple[int, ...], ds: Dataset) -> list[str]:
    """Names under which the unused columns go to `extra`: as the file writes them, made unique (DuckDB
    compares names ignoring case) and apart from the contract's and Orbit's own."""
    taken = {c.lower() for c in ds.column_names} | {"_n", "_line", "extra", _SKIP, _UNMAPPED}
    out = []
    for i in unused:
        name = header[i].strip() or f"column {i + 1}"
        if name.lower() in taken:
            name = f"source: {name}"
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base} ({n})", n + 1
        taken.add(name.lower())
        out.append(name)
    return out


def feed_sql(source: Source, rf: ResolvedFeed, header: list[str], fmt: str, rel: str) -> tuple[str, list[str]]:
    """SELECT over ``rel`` (``_n`` and the file's text columns c0, c1, ...): ``_n``, the feed's contract
    columns as contract text, its unused columns (named by :func:`extra_names`), ``_skip`` (the row does
    not meet `when`) and ``_unmapped`` (the columns whose value is not in their `map`, with the value,
    separated by chr(31); NULL when none). Returns the SELECT and the columns it gives (contract ones first)."""
    ds = DATASETS[rf.feed.dataset]
    read = source.mapping.read
    selects, unmapped, names = [], [], []
    for col in ds.columns:
        if col.name not in rf.feed.columns:
            continue
        value, miss = _value_sql(rf, col, fmt, read.decimal_comma, read.date_formats)
        selects.append(f"{value} AS {ident(col.name)}")
        names.append(col.name)
        if miss:
            raw = _text(rf.index[rf.feed.columns[col.name].from_[0]]) if len(rf.feed.columns[col.name].from_) == 1 \
                else f"coalesce({', '.join(_text(rf.index[c]) for c in rf.feed.columns[col.name].from_)})"
            unmapped.append(f"CASE WHEN {miss} THEN {literal(col.name + ' (')} || "
                            f"{literal(chr(39))} || {raw} || {literal(chr(39) + ' is not in its map)')} END")
    extras = extra_names(header, rf.unused, ds)
    selects += [f"c{i} AS {ident(n)}" for i, n in zip(rf.unused, extras)]
    skip = f"NOT {_when_sql(rf, rf.feed.when)}" if rf.feed.when else "false"
    miss = f"NULLIF(concat_ws({_SEP}, {', '.join(unmapped)}), '')" if unmapped else "CAST(NULL AS VARCHAR)"
    # the referenced columns trimmed once (as a dataset file's values are: trimming only what needs it)
    texts = ", ".join(f"NULLIF({_strip(f'c{i}')}, '') AS t{i}" for i in sorted(set(rf.index.values())))
    unused = "".join(f", c{i}" for i in rf.unused)
    inner = f"(SELECT _n, {texts}{unused} FROM {rel})" if texts else rel
    sql = f"SELECT _n, {', '.join(selects)}, {skip} AS {_SKIP}, {miss} AS {_UNMAPPED} FROM {inner}"
    return sql, names + extras


# ---------------------------------------------------------------------------------------------- loading
class _Resolver:
    """The mapping resolved against the file's header, once, when the reader has read it."""

    def __init__(self, source: Source, file: str) -> None:
        self.source, self.file = source, file
        self.header: list[str] = []
        self.feeds: list[ResolvedFeed] = []

    def __call__(self, header: list[str]) -> list[ResolvedFeed]:
        if not self.feeds:
            try:
                self.feeds = resolve(self.source, header, self.file)
            except MappingError as e:
                raise MappingRefused(str(e)) from None
            self.header = header
        return self.feeds


def load_source_file(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, path: Path, source: Source,
                     rules_for, plan_tz: str) -> list[LedgerEntry]:
    """Load one delivered file of ``source`` through each of its feeds, in one transaction: one ledger row
    per feed (``entry`` names the file, its hash and mtime). ``rules_for(dataset)`` gives a dataset's suite
    rules. Raises :class:`MappingRefused` (nothing written; the file waits) when the mapping does not fit
    the file's header, :class:`RejectedFile` when the file cannot be read."""
    opts = read_options(source, path)
    tz = source.mapping.read.timezone or plan_tz
    now = dt.datetime.now(dt.timezone.utc)
    resolver = _Resolver(source, entry.file)
    results = []
    with transaction(con):
        for n, feed in enumerate(source.mapping.feeds):
            results.append(_load_feed(con, replace(entry, dataset=feed.dataset, mapping_sha256=source.sha256), path,
                                      source, resolver, n, opts, rules_for(feed.dataset), tz, now))
    return results


def _load_feed(con, entry: LedgerEntry, path: Path, source: Source, resolver: _Resolver, n: int, opts: ReadOptions,
               rules, tz: str, now: dt.datetime) -> LedgerEntry:
    ds = DATASETS[source.mapping.feeds[n].dataset]
    fmt = opts.format or "csv"
    names: list[str] = []

    def typed(rel: str, header: list[str]) -> str:
        rf = resolver(header)[n]
        mapped, cols = feed_sql(source, rf, header, fmt, rel)
        names[:] = cols
        suspect = f"({failing_sql(rules)}) OR {_UNMAPPED} IS NOT NULL"
        return typed_sql(ds, cols, tz, f"({mapped})", suspect=suspect, passthrough=(_SKIP, _UNMAPPED))

    load_rows(con, path, "_all", typed, opts)
    try:
        skipped = con.execute(f"SELECT count(*) FROM _all_rows WHERE {_SKIP}").fetchall()[0][0]
        con.execute(f"CREATE OR REPLACE TEMP VIEW _typed_rows AS SELECT * FROM _all_rows WHERE NOT {_SKIP}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW _typed AS SELECT * FROM _all WHERE NOT {_SKIP}")

        def text_rows(table: str) -> str:
            """The feed's rows as mapped, without casting (for quarantined rows whose raw text was not kept)."""
            load_rows(con, path, table, lambda rel, header: feed_sql(source, resolver(header)[n], header, fmt, rel)[0],
                      opts)
            return raw_json_sql(names)

        unmapped = (f"SELECT _line, 'unmapped_value' AS reason, unnest(string_split({_UNMAPPED}, {_SEP})) "
                    f"AS \"column\" FROM _typed WHERE {_UNMAPPED} IS NOT NULL")
        extra = [n for n in names if n not in ds.column_names]
        message = f"mapped by {source.path.name}; extra columns kept in `extra`: {', '.join(extra)}" if extra \
            else f"mapped by {source.path.name}"
        return load_typed(con, entry, ds, rules, now, text_rows, message=message, skipped=skipped,
                          more_problems=unmapped)
    finally:
        for view in ("_typed", "_typed_rows"):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        drop_rows(con, "_all")


def log_waiting(con: duckdb.DuckDBPyConnection, entry: LedgerEntry, reason: str) -> LedgerEntry | None:
    """Ledger a file that waits for its mapping to be fixed (status ``waiting``), unless its latest ledger
    row already says the same. Returns the entry written, or None."""
    last = con.execute("SELECT status, message FROM ingestion_log WHERE file = ? AND sha256 = ? "
                       "ORDER BY seq DESC LIMIT 1", [entry.file, entry.sha256]).fetchall()
    if last and last[0] == ("waiting", reason):
        return None
    waiting = replace(entry, status="waiting", message=reason)
    with transaction(con):
        return log_entry(con, waiting)


@dataclass(frozen=True)
class Delivered:
    """What the ledger knows of one source file's content: the names and mtimes it was loaded under,
    and the mapping hashes it was loaded with."""

    files: dict[str, set[dt.datetime | None]]
    mappings: set[str | None]


def delivered_sources(con: duckdb.DuckDBPyConnection) -> dict[str, Delivered]:
    """sha256 -> what was loaded (or skipped as a copy) with that content, for files loaded by a mapping."""
    out: dict[str, Delivered] = {}
    for sha, file, mtime, mapping in con.execute(
            "SELECT sha256, file, file_mtime, mapping_sha256 FROM ingestion_log "
            "WHERE status IN ('loaded', 'duplicate_file') AND mapping_sha256 IS NOT NULL").fetchall():
        d = out.setdefault(sha, Delivered({}, set()))
        d.files.setdefault(file, set()).add(mtime)
        d.mappings.add(mapping)
    return out


def delivery_state(delivered: Delivered | None, file: str, mtime: dt.datetime, mapping: str) -> str:
    """``new`` (load it), ``loaded`` (this file as delivered is already loaded: leave it), ``loaded_earlier``
    (loaded under another version of the mapping: editing a mapping never reinterprets loaded rows;
    deliver the file again to load it under the new one) or ``copy`` (the same content under another
    name, already loaded with this mapping)."""
    if delivered is None:
        return "new"
    if file in delivered.files:
        if mapping in delivered.mappings:
            return "loaded"
        if mtime in delivered.files[file]:
            return "loaded_earlier"
        return "new"  # delivered again (a new modification time) under a changed mapping
    return "copy" if mapping in delivered.mappings else "new"


# ---------------------------------------------------------------------------------------------- dry run
@dataclass(frozen=True)
class FeedCheck:
    """What one feed would do with a file."""

    dataset: str
    matched: dict[str, tuple[str, ...]]  # contract column -> the file's headers it reads (empty: a constant)
    extra: list[str]  # the file's columns this feed does not read: kept in `extra`
    entry: LedgerEntry  # the counts: read, loaded, quarantined, duplicate, skipped
    reasons: list[tuple[str, int]]  # quarantine reason -> rows
    unmapped: list[tuple[str, int]]  # "column ('value' is not in its map)" -> rows
    columns: list[str]  # the contract columns of ``rows``
    rows: list[tuple]  # the first mapped rows that would load, typed


@dataclass(frozen=True)
class CheckResult:
    file: Path
    header: list[str]
    feeds: list[FeedCheck]


def dry_run(source: Source, path: Path, file: str, rules_for, plan_tz: str, sample: int = 5) -> CheckResult:
    """Map and check ``path`` exactly as an ingest would, in a warehouse in memory: nothing is written
    anywhere. Raises :class:`MappingRefused` or :class:`RejectedFile` as the ingest would."""
    from warehouse.db import migrate

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        migrate(con)
        entry = LedgerEntry(file, None, "dry-run", 0, 0, 0, 0, "loaded", None, None)
        resolver = _Resolver(source, file)
        opts = read_options(source, path)
        tz = source.mapping.read.timezone or plan_tz
        now = dt.datetime.now(dt.timezone.utc)
        entries = [_load_feed(con, replace(entry, dataset=f.dataset, mapping_sha256=source.sha256), path, source,
                              resolver, n, opts, rules_for(f.dataset), tz, now)
                   for n, f in enumerate(source.mapping.feeds)]
        feeds = []
        for rf, e in zip(resolver.feeds, entries):
            ds = DATASETS[e.dataset]
            names = [c.name for c in ds.columns if c.name in rf.feed.columns]
            reasons = con.execute("SELECT reason, count(*) FROM quarantine WHERE dataset = ? GROUP BY ALL "
                                  "ORDER BY 2 DESC, 1", [e.dataset]).fetchall()
            unmapped = con.execute(
                "SELECT d, count(*) FROM (SELECT unnest(string_split(details, '; ')) AS d FROM quarantine "
                "WHERE dataset = ?) WHERE ends_with(d, ': unmapped_value') GROUP BY ALL ORDER BY 2 DESC, 1",
                [e.dataset]).fetchall()
            rows = con.execute(f"SELECT {', '.join(ident(c) for c in names)} FROM {ds.name} ORDER BY _line "
                               f"LIMIT {int(sample)}").fetchall()
            feeds.append(FeedCheck(e.dataset, rf.matched, extra_names(resolver.header, rf.unused, ds), e, reasons,
                                   [(d.removesuffix(": unmapped_value"), n) for d, n in unmapped], names, rows))
        return CheckResult(path, resolver.header, feeds)
    finally:
        con.close()


def newest_file(landing_dir: Path) -> Path | None:
    """The newest delivered file of a source's folder (temporary names and markers aside)."""
    from warehouse.landing import list_landed

    files = [f for f in list_landed(landing_dir.parent) if f.path.parent == landing_dir]
    return files[-1].path if files else None


def source_ledger(con: duckdb.DuckDBPyConnection, folder: str) -> dict[tuple[str, str], tuple[str, str | None, str | None]]:
    """(file, sha256) -> (status, message, mapping hash) of the latest ledger row of each file of a source."""
    rows = con.execute(
        "SELECT file, sha256, last(status ORDER BY seq), last(message ORDER BY seq), "
        "last(mapping_sha256 ORDER BY seq) FROM ingestion_log WHERE starts_with(file, ?) GROUP BY ALL",
        [folder + "/"]).fetchall()
    return {(f, s): (st, m, h) for f, s, st, m, h in rows}


def read_source_ledger(databases: list[Path], folder: str) -> dict:
    """:func:`source_ledger` from the first of ``databases`` (the warehouse, then the published snapshot)
    that can be opened read-only: a writer holding the warehouse never makes a reader wait."""
    for path in databases:
        if not path.exists():
            continue
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error:
            continue
        try:
            return source_ledger(con, folder)
        except duckdb.Error:
            continue
        finally:
            con.close()
    return {}


def waiting_in_ledger(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(file, reason) of each delivered file whose latest ledger row says it waits for its mapping (a ledger
    or snapshot written before source mappings has none)."""
    has = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'ingestion_log' "
                      "AND column_name = 'mapping_sha256'").fetchall()[0][0]
    if not has:
        return []
    return con.execute(
        "SELECT file, message FROM (SELECT file, last(status ORDER BY seq) AS status, "
        "last(message ORDER BY seq) AS message FROM ingestion_log GROUP BY file, sha256) "
        "WHERE status = 'waiting' ORDER BY file").fetchall()
