"""Pure ingest transforms, as DuckDB SQL over the text rows of one delivered file.

A delivered file is first loaded as text (every column VARCHAR, plus ``_line``, its line
or record number in the file; :func:`orbit.landing.load_text`). These functions build the
SQL that checks its columns against the contract, casts each value to the contract's type
(a value that does not parse is a row-level problem, never a silent null), resolves rows
that repeat a key within the file and shapes quarantined rows. They only build SQL; the
warehouse runs it (:mod:`warehouse.load`), so every step runs inside DuckDB, in parallel,
without copying the file's rows into Python.
"""

from __future__ import annotations

from schemas.contracts import Column, Dataset
from schemas.derive import duckdb_type

#: Text forms accepted for each non-text type; anything else is quarantined as ``bad_type``.
_NUMBER = r"[+-]?\d+(\.\d{1,9})?"  # more places than DECIMAL(38,9) keeps would be silently rounded
_MONEY = r"[+-]?\d+(\.\d{1,2})?"
_INT = r"[+-]?\d+"
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_OFFSET = r"([zZ]|[+-]\d{2}(:?\d{2})?)"
_TIMESTAMP = rf"{_DATE}({_TIME}{_OFFSET}?)?"
_WHITESPACE = "' \t\r\n\f\v'"
#: Which reason names a row when it has several problems (the first listed wins).
_REASON_PRIORITY = ("null_key", "bad_type", "duplicate_key_conflict")
#: Prefix of the trimmed text of a contract column inside :func:`typed_sql`.
_TEXT = "_text_"


def ident(name: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def check_columns(columns: list[str], ds: Dataset) -> tuple[list[str], list[str]]:
    """Return (missing required columns, extra columns) of a delivered file."""
    present = set(columns)
    missing = [c for c in ds.required_columns if c not in present]
    known = set(ds.column_names) | {"_line"}
    extra = [c for c in columns if c not in known]
    return missing, extra


def _strip(text: str) -> str:
    """Text without surrounding whitespace (trimming only the values that need it: trim is slow)."""
    return (f"CASE WHEN ascii({text}) <= 32 OR ascii(right({text}, 1)) <= 32 "
            f"THEN trim({text}, {_WHITESPACE}) ELSE {text} END")


def timestamp_sql(text: str, tz: str) -> str:
    """ISO 8601 text to a UTC instant (TIMESTAMPTZ); text without an offset is read in ``tz``.

    NULL when it does not parse, and for a local time that does not exist in ``tz`` (a DST gap).
    """
    aware = f"regexp_matches({text}, '{_OFFSET}$') AND length({text}) > 10"
    local = f"TRY_CAST({text} AS TIMESTAMP)"
    naive = f"timezone({literal(tz)}, {local})"
    if tz != "UTC":
        naive = f"CASE WHEN timezone({literal(tz)}, {naive}) = {local} THEN {naive} END"
    return (f"CASE WHEN NOT regexp_full_match({text}, '{_TIMESTAMP}') THEN NULL "
            f"WHEN {aware} THEN TRY_CAST({text} AS TIMESTAMPTZ) ELSE {naive} END")


def cast_sql(col: Column, text: str, tz: str) -> str:
    """SQL casting the trimmed text ``text`` of a column to its contract type (NULL when it does not parse)."""
    if col.type == "string":
        return text
    if col.type == "timestamp":
        return timestamp_sql(text, tz)
    pattern = {"money": _MONEY, "int": _INT, "decimal": _NUMBER, "date": _DATE}[col.type]
    return f"CASE WHEN regexp_full_match({text}, '{pattern}') THEN TRY_CAST({text} AS {duckdb_type(col)}) END"


def typed_sql(ds: Dataset, columns: list[str], tz: str, source: str) -> str:
    """SELECT casting the text rows of ``source`` (a file's ``columns`` and ``_line``) to the contract.

    Gives ``_line``, every contract column (absent optional columns as NULL; blank text is NULL),
    ``extra`` (JSON text of the file's unknown columns, as delivered, or NULL) and ``_bad_type``:
    the comma-separated columns whose non-blank text did not parse ('' when none).
    """
    _, extra = check_columns(columns, ds)
    present = set(columns)
    texts = ", ".join(
        (f"NULLIF({_strip(ident(c.name))}, '')" if c.name in present else "CAST(NULL AS VARCHAR)")
        + f" AS {ident(_TEXT + c.name)}"
        for c in ds.columns
    )
    extra_sql = (f"CAST(json_object({', '.join(f'{literal(c)}, {ident(c)}' for c in extra)}) AS VARCHAR)"
                 if extra else "CAST(NULL AS VARCHAR)")
    typed = ", ".join(f"{cast_sql(c, ident(_TEXT + c.name), tz)} AS {ident(c.name)}" for c in ds.columns)
    bad = [f"CASE WHEN {ident(_TEXT + c.name)} IS NOT NULL AND {ident(c.name)} IS NULL THEN {literal(c.name)} END"
           for c in ds.columns if c.type != "string"]
    bad_sql = f"concat_ws(',', {', '.join(bad)})" if bad else "''"
    return f"""SELECT _line, {', '.join(ident(c) for c in ds.column_names)}, extra, {bad_sql} AS _bad_type
        FROM (SELECT *, {typed} FROM (SELECT _line, {texts}, {extra_sql} AS extra FROM {source}))"""


def bad_type_sql(typed: str) -> str:
    """Problems (_line, reason, column) of the values that did not parse, from a :func:`typed_sql` table."""
    return (f"""SELECT _line, 'bad_type' AS reason, unnest(string_split(_bad_type, ',')) AS "column"
                FROM {typed} WHERE _bad_type <> ''""")


def duplicates_sql(ds: Dataset, rows: str) -> str:
    """Rows of ``rows`` (with _line, _key, _row_hash) that repeat a key within one file: (_line, reason, column).

    Exact copies count once: the first by line is kept, the others are ``duplicate``; rows sharing a
    key with different values are all ``duplicate_key_conflict`` (exact copies of them too).
    """
    return f"""WITH repeated AS (SELECT _key FROM {rows} GROUP BY _key HAVING count(*) > 1),
        members AS (SELECT r._line, r._key, r._row_hash FROM {rows} r SEMI JOIN repeated USING (_key)),
        verdict AS (SELECT _key, count(DISTINCT _row_hash) > 1 AS conflict, min(_line) AS first
                    FROM members GROUP BY _key)
        SELECT m._line, CASE WHEN v.conflict THEN 'duplicate_key_conflict' ELSE 'duplicate' END AS reason,
               {literal(','.join(ds.key))} AS "column"
        FROM members m JOIN verdict v USING (_key) WHERE v.conflict OR m._line <> v.first"""


def quarantine_sql(problems: str, source: str, columns: list[str]) -> str:
    """One row per bad line: _line, reason (primary code), details, raw (JSON of the text row).

    ``problems`` holds (_line, reason, column); ``source`` the text rows. A value that did not
    parse is reported once, as ``bad_type`` (not also as missing).
    """
    rank = " ".join(f"WHEN {literal(r)} THEN {i}" for i, r in enumerate(_REASON_PRIORITY))
    raw = f"CAST(json_object({', '.join(f'{literal(c)}, s.{ident(c)}' for c in columns)}) AS VARCHAR)"
    return f"""WITH p AS (
            SELECT DISTINCT _line, reason, "column", CASE reason {rank} ELSE {len(_REASON_PRIORITY)} END AS rank
            FROM {problems} a
            WHERE reason = 'bad_type' OR NOT EXISTS (
                SELECT 1 FROM {problems} b WHERE b.reason = 'bad_type' AND b._line = a._line AND b."column" = a."column")),
        g AS (SELECT _line, first(reason ORDER BY rank, reason, "column") AS reason,
                     string_agg("column" || ': ' || reason, '; ' ORDER BY rank, reason, "column") AS details
              FROM p GROUP BY _line)
        SELECT g._line, g.reason, g.details, {raw} AS raw FROM g JOIN {source} s ON s._line = g._line"""
