"""The landing zone: finding delivered files, hashing them, reading them as text.

:func:`load_rows` reads a delivered file as text — the file's own columns, all VARCHAR —
shapes the rows in the same pass (the ingest casts them to the contract) and numbers them
with ``_line``: the physical line of the row in a CSV or JSON Lines file (blank lines and
line breaks inside quoted values counted), the 1-based record number in a Parquet file.
One set of casting rules (derived from the contract) then applies to every format. A file that cannot be read at all raises
:class:`RejectedFile` with a message naming the file, the line and the problem.

CSV is read strictly by DuckDB (RFC 4180 quoting, every row with the header's number of
fields), so a half-written file — a last line with fewer fields — is rejected, never
padded with nulls. JSON numbers are kept as their exact text, never passed through a float.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from schemas.contracts import DATASETS
from warehouse.sql import ident, literal

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: Files still being written or markers; never ingested.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".done", ".reason")
_BOM = codecs.BOM_UTF8


class RejectedFile(Exception):
    """A whole file that cannot be ingested. ``line`` is 0 when the problem is not on one line."""

    def __init__(self, path: Path, problem: str, line: int = 0) -> None:
        self.path, self.problem, self.line = path, problem, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file that is not in the landing contract's own form (a source mapping's `read`).

    ``positional`` names the columns of the rows ``c0``, ``c1``, ... (the header is returned as
    written): any header can be read, even one with blank or repeated names."""

    format: str | None = None  # default: from the extension
    encoding: str = "utf-8"  # csv: utf-8 | cp1252 | latin-1 | utf-16
    delimiter: str = ","
    skip_rows: int = 0  # rows above the header row
    sheet: str | int | None = None  # xlsx
    positional: bool = False


CONTRACT = ReadOptions()


@dataclass(frozen=True)
class LandedFile:
    path: Path
    dataset: str | None  # None: the folder is not a known dataset
    mtime: dt.datetime

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    @property
    def folder(self) -> str:
        return self.path.parent.name


#: Seconds a delivered file's size and modification time must stay unchanged before it counts as complete
#: when it was neither renamed into place nor marked with ``<name>.done`` (`orbit serve`'s watcher rule).
SETTLE_SECONDS = float(os.environ.get("ORBIT_SETTLE_SECONDS", "1"))
#: A marker beside a delivered file saying it is complete (for tools that cannot rename).
DONE_MARKER = ".done"


def looks_complete(landed: LandedFile, now: float, settle_seconds: float = SETTLE_SECONDS) -> bool:
    """Whether a delivered file can be taken as complete without having seen it arrive: a ``.done``
    marker beside it, or non-empty and unmodified for ``settle_seconds``."""
    if landed.path.with_name(landed.path.name + DONE_MARKER).exists():
        return True
    try:
        stat = landed.path.stat()
    except OSError:
        return False
    return stat.st_size > 0 and now - stat.st_mtime >= settle_seconds


def list_landed(landing: Path) -> list[LandedFile]:
    """Delivered files in ledger order: modification time, then name."""
    files = []
    if not landing.exists():
        return files
    for path in landing.rglob("*"):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(IGNORED_SUFFIXES):
            continue
        folder = path.relative_to(landing).parts[0] if len(path.relative_to(landing).parts) > 1 else None
        stat = path.stat()
        files.append(
            LandedFile(path, folder if folder in DATASETS else None,
                       dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc))
        )
    return sorted(files, key=lambda f: (f.mtime, f.name))


def sha256_of(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scan(path: Path) -> int:
    """One streaming pass over a text file: reject it if it is blank or not UTF-8 (a BOM is fine);
    return its number of physical lines."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines, blank, last, first = 0, True, b"", True
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            if first and chunk.startswith(_BOM):
                chunk = chunk[len(_BOM):]
            first = False
            try:
                if not chunk.isascii() or decoder.getstate()[0]:  # ASCII is UTF-8: no need to decode it
                    decoder.decode(chunk)
            except UnicodeDecodeError as e:
                line = newlines + e.object[: e.start].count(b"\n") + 1
                raise RejectedFile(path, f"not valid UTF-8 (byte 0x{e.object[e.start]:02x}); "
                                         "re-export the file as UTF-8", line) from None
            if blank and chunk.strip():
                blank = False
            newlines += chunk.count(b"\n")
            last = chunk[-1:] or last
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise RejectedFile(path, "not valid UTF-8 (the file ends inside a character); re-export the file as UTF-8",
                           newlines + 1) from None
    if blank:
        raise RejectedFile(path, "the file is empty")
    return newlines + (last != b"\n")


def _check_header(path: Path, columns: list[str], opts: ReadOptions = CONTRACT, line: int = 1) -> None:
    if not any(c.strip() for c in columns):
        raise RejectedFile(path, "no header row", line)
    if opts.positional:
        return
    if "_line" in columns:
        raise RejectedFile(path, "a column is named '_line', a name Orbit reserves; rename it", 1)
    seen: dict[str, int] = {}
    for i, c in enumerate(columns, start=1):
        if not c.strip():
            raise RejectedFile(path, f"column {i} of the header has no name; name it or remove it", 1)
        if c.lower() in seen:
            raise RejectedFile(path, f"duplicate column name {c!r} (columns {seen[c.lower()]} and {i}); "
                                     "each column must appear once", 1)
        seen[c.lower()] = i


def _csv_error(path: Path, error: duckdb.Error, lines: int, delimiter: str = ",") -> RejectedFile:
    """DuckDB's CSV error as a message naming the line and the problem in plain words."""
    text = str(error)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(m.group(1)) if m else 0
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if fields:
        expected, found = int(fields.group(1)), int(fields.group(2))
        problem = f"the line has {found} field(s), the header has {expected}"
        if found < expected and line >= lines:
            problem += ": the file looks truncated (cut off while being written?); deliver the complete file"
        else:
            problem += f"; check the delimiter ({delimiter!r}) and the quoting of values that contain it"
    elif "unterminated quote" in text:
        problem = "a quoted value is never closed (unterminated quote); check the quoting, or deliver the complete file"
    else:
        detail = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith(("Original Line", "CSV Error"))]
        problem = detail[0] if detail else text
        problem = re.sub(r"^[\w ]+ Error: ", "", problem)
    return RejectedFile(path, f"unreadable CSV: {problem}", line)


def _names(header: list[str], opts: ReadOptions) -> list[str]:
    """The column names of a file's rows: its header, or c0, c1, ... when reading positionally."""
    return [f"c{i}" for i in range(len(header))] if opts.positional else header


def _csv_lines(path: Path, rows: int, opts: ReadOptions = CONTRACT) -> list[int]:
    """Start line of each record, for files with blank lines or line breaks inside quoted values."""
    starts, previous = [], opts.skip_rows
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for _ in range(opts.skip_rows):
            fh.readline()
        reader = csv.reader(fh, strict=True, delimiter=opts.delimiter)
        for record in reader:
            if record:
                starts.append(previous + 1)
            previous = opts.skip_rows + reader.line_num
    if len(starts) - 1 != rows:
        raise RejectedFile(path, f"unreadable CSV: {len(starts) - 1} records found, but {rows} rows read; "
                                 "check the quoting")
    return starts[1:]


#: Builds the SELECT that shapes a file's text rows: (source relation, the file's column names) -> SQL.
#: The source carries ``_n``, the record's number in the file (from 0); the SELECT must keep it.
Shape = Callable[[str, list[str]], str]


def _all_text(source: str, columns: list[str]) -> str:
    return f"SELECT * FROM {source}"


def _number(con: duckdb.DuckDBPyConnection, table: str, first_line: int, lines: list[int] | None = None) -> None:
    """The view ``table``: ``_line`` and the rows of ``{table}_rows``. Record ``_n`` is on line
    ``first_line + _n``, or on ``lines[_n]`` when given."""
    rows = con.execute(f"SELECT count(*) FROM {table}_rows").fetchall()[0][0]
    if lines is None or lines == list(range(first_line, first_line + rows)):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT _n + {first_line} AS _line, * EXCLUDE (_n) "
                    f"FROM {table}_rows")
        return
    con.register(f"{table}_numbers", pl.DataFrame({"_n": range(rows), "_line": lines},
                                                  schema={"_n": pl.Int64, "_line": pl.Int64}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_lines AS SELECT * FROM {table}_numbers")
    con.unregister(f"{table}_numbers")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {table} AS
                    SELECT l._line, r.* EXCLUDE (_n) FROM {table}_rows r JOIN {table}_lines l USING (_n)""")


def _transcoded(path: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of a text file in another encoding (same lines); rejects bytes the encoding does not have."""
    target = workdir / (path.name + ".utf-8")
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as out:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as e:
                at = line + e.object[: e.start].count(b"\n")
                raise RejectedFile(path, f"not valid {encoding} (byte 0x{e.object[e.start]:02x}); check the "
                                         "mapping's `read.encoding`", at) from None
            line += chunk.count(b"\n")
            out.write(text)
        out.write(decoder.decode(b"", final=True))
    return target


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str, shape: Shape,
              opts: ReadOptions = CONTRACT) -> list[str]:
    if opts.encoding not in ("utf-8", "utf-8-sig"):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="orbit-") as tmp:
            try:
                return _load_csv(con, _transcoded(path, opts.encoding, Path(tmp)), table, shape,
                                 replace(opts, encoding="utf-8"))
            except RejectedFile as e:
                raise RejectedFile(path, e.problem, e.line) from None
    lines = _scan(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for _ in range(opts.skip_rows):
            fh.readline()
        try:
            header = next(csv.reader(fh, delimiter=opts.delimiter), [])
        except csv.Error as e:
            raise RejectedFile(path, f"unreadable CSV header: {e}", opts.skip_rows + 1) from None
    _check_header(path, header, opts, opts.skip_rows + 1)
    spec = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
    renamed = ", ".join(f"c{i} AS {ident(c)}" for i, c in enumerate(_names(header, opts)))
    select = shape(f"{table}_text", header)
    # Records are numbered while reading (a streaming row_number follows the file; the rowids of a table
    # built in parallel do not always), in a light pass of its own: shaping then runs in parallel.
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table}_text AS SELECT row_number() OVER () - 1 AS _n, {renamed}
                FROM read_csv({literal(str(path))}, columns={{{spec}}}, header=true, auto_detect=false,
                strict_mode=true, null_padding=false, delim={literal(opts.delimiter)}, quote='"', escape='"',
                encoding='utf-8', skip={opts.skip_rows})"""
        )
    except duckdb.InvalidInputException as e:
        raise _csv_error(path, e, lines, opts.delimiter) from None
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_rows AS {select}")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}_text")
    rows = con.execute(f"SELECT count(*) FROM {table}_rows").fetchall()[0][0]
    # one physical line per record: record n (from 0) is on line n + 2; else blank lines or quoted line breaks
    first = opts.skip_rows + 2
    _number(con, table, first, None if lines - first + 1 == rows else _csv_lines(path, rows, opts))
    return header


def _json_text(value) -> str | None:
    """A JSON value as the text a CSV would carry: numbers exactly as written, nested values as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json_nested(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(_json_nested(v) for v in value) + "]"


def _json_nested(value) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) or value is None else _json_text(value)


def _load_jsonl(con: duckdb.DuckDBPyConnection, path: Path, table: str, shape: Shape,
                opts: ReadOptions = CONTRACT) -> list[str]:
    _scan(path)
    columns: dict[str, list[str | None]] = {}
    numbers: list[int] = []
    with path.open("rb") as fh:  # split on \n only: U+2028 and \r are valid inside a JSON line
        for number, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8")
            if number == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_float=Decimal, parse_constant=str)
                if not isinstance(record, dict):
                    raise ValueError("each line must be a JSON object")
            except ValueError as e:
                raise RejectedFile(path, f"malformed JSON line: {e}", number) from None
            for name in record:
                if name not in columns:
                    columns[name] = [None] * len(numbers)
            for name, values in columns.items():
                values.append(_json_text(record.get(name)))
            numbers.append(number)
    _check_header(path, list(columns), opts)
    names = _names(list(columns), opts)
    con.register(f"{table}_frame", pl.DataFrame({"_n": range(len(numbers)), **dict(zip(names, columns.values()))},
                                                schema={"_n": pl.Int64, **{c: pl.Utf8 for c in names}}))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_rows AS {shape(f'{table}_frame', list(columns))}")
    finally:
        con.unregister(f"{table}_frame")
    _number(con, table, 1, numbers)
    return list(columns)


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str, shape: Shape,
                  opts: ReadOptions = CONTRACT) -> list[str]:
    source = f"read_parquet({literal(str(path))}, file_row_number=true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as e:
        raise RejectedFile(path, f"unreadable Parquet: {str(e).splitlines()[0]}") from None
    schema = [(name, kind) for name, kind, *_ in described if name != "file_row_number"]
    _check_header(path, [n for n, _ in schema], opts)

    def text(name: str, kind: str, alias: str) -> str:
        nested = kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION"))
        return f"CAST({'to_json(' + ident(name) + ')' if nested else ident(name)} AS VARCHAR) AS {ident(alias)}"

    aliases = _names([n for n, _ in schema], opts)
    select = shape(f"(SELECT file_row_number AS _n, "
                   f"{', '.join(text(n, k, a) for (n, k), a in zip(schema, aliases))} FROM {source})",
                   [n for n, _ in schema])
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_rows AS {select}")
    except (duckdb.InvalidInputException, duckdb.IOException) as e:
        raise RejectedFile(path, f"unreadable Parquet: {str(e).splitlines()[0]}") from None
    _number(con, table, 1)
    return [n for n, _ in schema]


def _load_xlsx(con: duckdb.DuckDBPyConnection, path: Path, table: str, shape: Shape,
               opts: ReadOptions = CONTRACT) -> list[str]:
    """A workbook's sheet (the first, or ``opts.sheet``), every cell as text; ``_line`` is the sheet's row."""
    from warehouse.spreadsheet import SheetError, read_sheet_text

    try:
        sheet = read_sheet_text(path, opts.sheet, opts.skip_rows)
    except SheetError as e:
        raise RejectedFile(path, e.problem, e.line) from None
    _check_header(path, sheet.header, opts, sheet.header_line)
    names = _names(sheet.header, opts)
    con.register(f"{table}_frame", pl.DataFrame({"_n": range(len(sheet.lines)), **dict(zip(names, sheet.columns))},
                                                schema={"_n": pl.Int64, **{c: pl.Utf8 for c in names}}))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_rows AS {shape(f'{table}_frame', sheet.header)}")
    finally:
        con.unregister(f"{table}_frame")
    _number(con, table, 1, sheet.lines)
    return sheet.header


def load_rows(con: duckdb.DuckDBPyConnection, path: Path, table: str, shape: Shape = _all_text,
              opts: ReadOptions = CONTRACT) -> list[str]:
    """Read a delivered file into the temporary view ``table``: ``_line`` and the rows of
    ``shape(source, columns)`` over its text rows (every column VARCHAR; by default as they are),
    in one pass. Return the file's column names; raise :class:`RejectedFile` if it cannot be read.
    ``opts`` reads a file that is not in the contract's form (a source mapping's `read`).
    :func:`drop_rows` removes what it created."""
    fmt = opts.format or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RejectedFile(path, f"unknown file type {path.suffix!r}; deliver .csv, .xlsx, .parquet or .jsonl")
    if os.path.getsize(path) == 0:
        raise RejectedFile(path, "the file is empty")
    readers = {"csv": _load_csv, "xlsx": _load_xlsx, "jsonl": _load_jsonl, "parquet": _load_parquet}
    return readers[fmt](con, path, table, shape, opts)


def drop_rows(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(f"DROP VIEW IF EXISTS {table}")
    for name in (f"{table}_rows", f"{table}_lines"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def rejected_target(quarantine: Path, path: Path) -> Path:
    """Where a rejected file goes: ``quarantine/files/<folder>/<name>``, stamped if that name is taken."""
    target = quarantine / "files" / path.parent.name / path.name
    if target.exists() or target.with_name(target.name + ".reason").exists():
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        target = target.with_name(f"{path.stem}.{stamp}{path.suffix}")
    return target


def move_rejected(path: Path, target: Path, reason: str) -> Path:
    """Move a rejected file to ``target`` with a ``.reason`` file beside it (the reason is written first).

    Idempotent: run again after a crash, it finishes the move."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")
    if path.exists():
        shutil.move(path, target)
    return target
