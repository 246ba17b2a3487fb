"""Source mappings: how to read a real export and which contract columns each row feeds.

A source mapping is a public contract (users write these files): ``$ORBIT_HOME/sources/<name>.yaml``,
its files delivered to ``landing/<name>/``. This module declares the format, validates a mapping
on its own (:func:`load_mapping`: errors name the file, the line and the field) and against a
delivered file's header (:func:`resolve`: a missing or ambiguous header refuses the mapping,
naming it). It builds no SQL: :mod:`warehouse.sources` compiles a resolved mapping.

Every YAML scalar is read as text (``Yes``, ``0012`` and ``2017-03-01`` stay what they are
written as); only ``~``/``null`` is empty.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.contracts import DATASETS
from schemas.plan import _line_map, _line_of

FORMATS = ("csv", "xlsx", "parquet", "jsonl")
ENCODINGS = ("utf-8", "cp1252", "latin-1", "utf-16")
#: File extensions and the format each is read as.
EXTENSIONS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: strptime directives a date format may use (the ones DuckDB's strptime and Python's agree on).
DATE_DIRECTIVES = set("dmYyHIMSpfbBjaA%")
#: A comment marking a value the user must write in their own words (their stage names, their departments).
YOURS = "YOURS:"
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class MappingError(ValueError):
    """A mapping that cannot be used as it is; the message names file, line and field."""


class _TextLoader(yaml.SafeLoader):
    """Every scalar is text except ``~``/``null``/empty (no booleans, numbers or dates guessed)."""


_TextLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag == "tag:yaml.org,2002:null"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _texts(v: object) -> object:
    """One text or a list of texts, as a tuple."""
    if isinstance(v, str):
        return (v,)
    return v


class Read(_Strict):
    format: Literal["csv", "xlsx", "parquet", "jsonl"] | None = None
    encoding: Literal["utf-8", "cp1252", "latin-1", "utf-16"] = "utf-8"
    delimiter: str = ","
    sheet: str | None = None  # a name, or a 0-based index written as a number
    skip_rows: int = Field(default=0, ge=0)
    decimal_comma: bool = False
    date_formats: tuple[str, ...] = ()
    timezone: str | None = None

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip().lower().replace("_", "-")
            v = {"utf8": "utf-8", "utf-8-sig": "utf-8", "windows-1252": "cp1252", "latin1": "latin-1",
                 "iso-8859-1": "latin-1", "utf16": "utf-16"}.get(v, v)
        return v

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, v: str) -> str:
        v = {"\\t": "\t", "tab": "\t"}.get(v, v)
        if len(v) != 1 or v in "\"\r\n":
            raise ValueError("the delimiter is one character, such as ',' ';' '|' or '\\t'")
        return v

    @field_validator("date_formats", mode="before")
    @classmethod
    def _formats_list(cls, v: object) -> object:
        return _texts(v)

    @field_validator("date_formats")
    @classmethod
    def _formats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for f in v:
            used = re.findall(r"%(.)", f)
            bad = [d for d in used if d not in DATE_DIRECTIVES]
            if bad or not used:
                raise ValueError(f"{f!r} is not a date format Orbit reads (use %d %m %Y %y %H %M %S %I %p %b %B, "
                                 "e.g. '%m/%d/%Y'; times with an offset are read in ISO 8601 without a format)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {v!r} (use an IANA name such as Europe/Madrid)") from None
        return v


class When(_Strict):
    not_blank: tuple[str, ...] = ()
    equals: dict[str, tuple[str, ...]] = {}

    @field_validator("not_blank", mode="before")
    @classmethod
    def _list(cls, v: object) -> object:
        return _texts(v)

    @field_validator("equals", mode="before")
    @classmethod
    def _values(cls, v: object) -> object:
        if isinstance(v, dict):
            return {str(k): _texts(x) if x is not None else ("",) for k, x in v.items()}
        return v

    @property
    def columns(self) -> tuple[str, ...]:
        return self.not_blank + tuple(self.equals)


class Rule(_Strict):
    """How one contract column gets its value."""

    from_: tuple[str, ...] = Field(default=(), alias="from")  # source columns, the first non-blank wins
    join: str | None = None  # instead: the non-blank values of `from` joined with this text (first + last name)
    map: dict[str, str] | None = None  # source value -> contract value; a value outside it quarantines the row
    default: str | None = None  # used when the source value is blank
    value: str | None = None  # a constant
    time: str | None = None  # a column holding the time of day of the date in `from`
    when: When | None = None  # the value only on rows meeting it; blank on the others

    @field_validator("from_", mode="before")
    @classmethod
    def _from_list(cls, v: object) -> object:
        return _texts(v)

    @field_validator("map", mode="before")
    @classmethod
    def _map_text(cls, v: object) -> object:
        if isinstance(v, dict):
            empty = [k for k, x in v.items() if x is None or k is None]
            if empty:
                raise ValueError(f"map entry {empty[0]!r} has no value; write the contract value it stands for")
            return {str(k).strip(): str(x).strip() for k, x in v.items()}
        return v

    @model_validator(mode="after")
    def _one_way(self) -> Rule:
        if self.value is not None:
            if self.from_ or self.map is not None or self.default is not None or self.time is not None or self.join:
                raise ValueError("`value` is a constant: it takes no `from`, `join`, `map`, `default` or `time`")
        elif not self.from_:
            raise ValueError("give `from` (a source column, or a list: the first non-blank wins) or `value`")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        """Source columns this rule reads."""
        return self.from_ + ((self.time,) if self.time else ()) + (self.when.columns if self.when else ())


class Feed(_Strict):
    dataset: str
    when: When | None = None
    columns: dict[str, Rule]

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, v: object) -> object:
        if isinstance(v, dict):
            return {k: {"from": x} if isinstance(x, (str, list)) else x for k, x in v.items()}
        return v

    @model_validator(mode="after")
    def _contract(self) -> Feed:
        if self.dataset not in DATASETS:
            raise _FieldError(("dataset",), f"unknown dataset {self.dataset!r}; one of {', '.join(DATASETS)}")
        ds = DATASETS[self.dataset]
        problems: list[tuple[tuple[str, ...], str]] = []
        for name, rule in self.columns.items():
            if name not in ds.column_names:
                problems.append((("columns", name), f"{name!r} is not a column of {ds.name} "
                                                    f"(its columns: {', '.join(ds.column_names)})"))
            elif rule.time and ds.column(name).type != "timestamp":
                problems.append((("columns", name), f"`time` only goes with a timestamp column; {name} is a "
                                                    f"{ds.column(name).type}"))
        missing = [c for c in ds.required_columns if c not in self.columns]
        if missing:
            problems.append((("columns",), f"required column(s) of {ds.name} neither mapped nor given a "
                                           f"`value`: {', '.join(missing)}"))
        if problems:
            raise _FieldError(*problems[0], more=problems[1:])
        return self


class SourceMapping(_Strict):
    read: Read = Read()
    feeds: tuple[Feed, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_feed_per_dataset(self) -> SourceMapping:
        seen: dict[str, int] = {}
        for i, f in enumerate(self.feeds):
            if f.dataset in seen:
                raise _FieldError(("feeds", str(i), "dataset"),
                                  f"{f.dataset} is fed twice (feeds {seen[f.dataset]} and {i}); "
                                  "one feed per dataset — combine the two with `when`")
            seen[f.dataset] = i
        return self


class _FieldError(ValueError):
    def __init__(self, loc: tuple[str, ...], msg: str, more: list[tuple[tuple[str, ...], str]] | None = None) -> None:
        super().__init__(msg)
        self.problems = [(loc, msg), *(more or [])]


@dataclass(frozen=True)
class Source:
    """A validated mapping file."""

    name: str
    path: Path
    mapping: SourceMapping
    lines: dict[tuple[str, ...], int]
    yours: tuple[tuple[int, str], ...]  # (line, text) of each `# YOURS:` comment

    @property
    def sha256(self) -> str:
        """Content hash of what the mapping says (comments and layout aside): ledgered with each file."""
        canonical = json.dumps(self.mapping.model_dump(mode="json", by_alias=True), sort_keys=True,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def line_of(self, *loc: str) -> int:
        return _line_of(self.lines, loc)

    def where(self, *loc: str) -> str:
        """``file:line: field`` of a place in the mapping."""
        return f"{self.path}:{self.line_of(*loc)}: {'.'.join(loc) or '(mapping)'}"

    def format_of(self, file: Path) -> str | None:
        return self.mapping.read.format or EXTENSIONS.get(file.suffix.lower())


def check_source_name(name: str) -> str | None:
    """Why ``name`` cannot name a source (None when it can)."""
    if name in DATASETS:
        return f"{name!r} is a dataset; a source needs a name of its own (its files go to landing/<name>/)"
    if not SOURCE_NAME.fullmatch(name):
        return f"{name!r} cannot name a source: use letters, digits, '_', '-' or '.'"
    return None


def parse_mapping(text: str, path: Path, name: str | None = None) -> Source:
    """Validate a mapping's text; raise :class:`MappingError` naming file, line and field."""
    name = name or path.stem
    problem = check_source_name(name)
    if problem:
        raise MappingError(f"{path}:1: (name): {problem}")
    try:
        data = yaml.load(text, Loader=_TextLoader)  # noqa: S506 - a SafeLoader subclass
        lines = _line_map(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise MappingError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: {getattr(e, 'problem', e)}") \
            from None
    if not isinstance(data, dict):
        raise MappingError(f"{path}:1: a source mapping is a YAML mapping with `feeds` (and optionally `read`)")
    try:
        mapping = SourceMapping.model_validate(data)
    except ValidationError as e:
        msgs = []
        errors = e.errors()
        for err in errors:
            loc = tuple("from" if p == "from_" else str(p) for p in err["loc"])
            if err["type"] == "too_short" and any(o is not err and o["loc"][:len(loc)] == err["loc"] for o in errors):
                continue  # a list whose items failed: the items' errors say why
            ctx = (err.get("ctx") or {}).get("error")
            if isinstance(ctx, _FieldError):
                found = [(loc + sub, msg) for sub, msg in ctx.problems]
            else:
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = f"unknown key {loc[-1]!r}"
                found = [(loc, msg)]
            for where, msg in found:
                msgs.append(f"{path}:{_line_of(lines, where)}: {'.'.join(where) or '(mapping)'}: {msg}")
        raise MappingError("\n".join(dict.fromkeys(msgs))) from None
    yours = tuple((i, line.split("#", 1)[1].strip()) for i, line in enumerate(text.splitlines(), start=1)
                  if "#" in line and YOURS in line.split("#", 1)[1])
    return Source(name, path, mapping, lines, yours)


def load_mapping(path: str | Path) -> Source:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"{path}:1: cannot read the mapping: {getattr(e, 'strerror', None) or e}") from None
    return parse_mapping(text, path)


# ------------------------------------------------------------------ a mapping against a file's header
def header_key(name: str) -> str:
    """How headers are compared: ignoring case and surrounding spaces."""
    return name.strip().casefold()


@dataclass(frozen=True)
class ResolvedFeed:
    """A feed with its source columns found in one file: names are indexes into the file's header."""

    feed: Feed
    index: dict[str, int]  # source column as written in the mapping -> its position in the header
    unused: tuple[int, ...]  # positions of the header's columns this feed does not read (they go to `extra`)
    matched: dict[str, tuple[str, ...]]  # contract column -> the headers it reads, as the file writes them


def resolve(source: Source, header: list[str], file: str) -> list[ResolvedFeed]:
    """Find every source column the mapping names in ``header``; raise :class:`MappingError` naming each
    one that is missing or ambiguous (and where the mapping names it)."""
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        positions.setdefault(header_key(h), []).append(i)
    problems: list[str] = []
    out = []
    for n, feed in enumerate(source.mapping.feeds):
        index: dict[str, int] = {}
        wanted: list[tuple[str, tuple[str, ...]]] = []  # (source column, where the mapping names it)

        def find(col: str, *loc: str, _wanted: list = wanted) -> None:
            _wanted.append((col, loc))

        for name, rule in feed.columns.items():
            for col in rule.from_ + ((rule.time,) if rule.time else ()):
                find(col, "columns", name)
            if rule.when:
                for col in rule.when.not_blank:
                    find(col, "columns", name, "when", "not_blank")
                for col in rule.when.equals:
                    find(col, "columns", name, "when", "equals", col)
        if feed.when:
            for col in feed.when.not_blank:
                find(col, "when", "not_blank")
            for col in feed.when.equals:
                find(col, "when", "equals", col)
        for col, loc in wanted:
            hits = positions.get(header_key(col), [])
            where = source.where("feeds", str(n), *loc)
            if len(hits) == 1:
                index[col] = hits[0]
            elif not hits:
                problems.append(f"{where}: no column {col!r} in {file} (its columns: {', '.join(header)})")
            else:
                problems.append(f"{where}: {col!r} is ambiguous in {file}: columns "
                                f"{' and '.join(str(h + 1) for h in hits)} ({', '.join(repr(header[h]) for h in hits)})")
        used = set(index.values())
        matched = {name: tuple(header[index[c]] for c in rule.from_ + ((rule.time,) if rule.time else ()) if c in index)
                   for name, rule in feed.columns.items()}
        out.append(ResolvedFeed(feed, index, tuple(i for i in range(len(header)) if i not in used), matched))
    if problems:
        raise MappingError("\n".join(dict.fromkeys(problems)))
    return out


# ------------------------------------------------------------------------------------------------ presets
PRESETS_DIR = Path(__file__).resolve().parent / "presets"


def presets() -> dict[str, Path]:
    """The mappings shipped with Orbit for common exports: name -> file."""
    return {p.stem: p for p in sorted(PRESETS_DIR.glob("*.yaml"))}


def preset_summary(path: Path) -> str:
    """The first comment line of a preset (what export it reads)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
