"""The ingest's SQL over the text rows of one delivered file (built here, run by :mod:`warehouse.load`).

A delivered file is read as text (every column VARCHAR) and, in the same pass, cast to the
contract by :func:`typed_sql` (:func:`warehouse.landing.load_rows` numbers the rows with
``_line``, their line or record number in the file). These functions build the SQL that
checks its columns against the contract, casts each value to the contract's type (a value
that does not parse is a row-level problem, never a silent null), resolves rows that
repeat a key within the file and shapes quarantined rows. They only build SQL;
:mod:`warehouse.load` runs it, so every step runs inside DuckDB, in parallel,
without copying the file's rows into Python.
"""

from __future__ import annotations

from schemas.contracts import Column, Dataset
from warehouse.sql import duckdb_type, ident, key_expr_sql, literal

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
    # once the text matches _TIMESTAMP, a 'Z' at the end or a sign after the date can only be an offset
    aware = f"(right({text}, 1) IN ('Z', 'z') OR contains({text}[11:], '+') OR contains({text}[11:], '-'))"
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


def raw_json_sql(columns: list[str], values: list[str] | None = None) -> str:
    """JSON text of a delivered row: each of the file's ``columns`` with its text (the SQL ``values``,
    by default the columns themselves)."""
    values = values or [ident(c) for c in columns]
    return f"CAST(json_object({', '.join(f'{literal(c)}, {v}' for c, v in zip(columns, values))}) AS VARCHAR)"


def typed_sql(ds: Dataset, columns: list[str], tz: str, source: str, suspect: str = "false",
              passthrough: tuple[str, ...] = ()) -> str:
    """SELECT casting the text rows of ``source`` (a file's ``columns``, all VARCHAR, and ``_n``, the
    record's number) to the contract.

    Gives ``_n``, every contract column (absent optional columns as NULL; blank text is NULL), ``extra``
    (JSON text of the file's unknown columns, as delivered, or NULL), ``_bad_type`` (the
    comma-separated columns whose non-blank text did not parse, '' when none), ``_row_hash`` (a
    stable hash of the typed row) and ``_raw``: the delivered row as JSON text
    (:func:`raw_json_sql`) where a value did not parse or ``suspect`` (a predicate over the typed
    columns) holds, else NULL. The columns ``passthrough`` of ``source`` pass through as they are. One pass
    over the rows.
    """
    _, extra = check_columns(columns, ds)
    present = set(columns)
    texts = ", ".join(
        (f"NULLIF({_strip(ident(c.name))}, '')" if c.name in present else "CAST(NULL AS VARCHAR)")
        + f" AS {ident(_TEXT + c.name)}"
        for c in ds.columns
    )
    extra_sql = raw_json_sql(extra) if extra else "CAST(NULL AS VARCHAR)"
    typed = ", ".join(f"{cast_sql(c, ident(_TEXT + c.name), tz)} AS {ident(c.name)}" for c in ds.columns)
    bad = [f"CASE WHEN {ident(_TEXT + c.name)} IS NOT NULL AND {ident(c.name)} IS NULL THEN {literal(c.name)} END"
           for c in ds.columns if c.type != "string"]
    bad_sql = f"concat_ws(',', {', '.join(bad)})" if bad else "''"
    keep = ", ".join(ident(c) for c in ds.column_names)
    raws = [_TEXT + "raw_" + str(i) for i in range(len(columns))]
    raw_sql = raw_json_sql(columns, [ident(r) for r in raws])
    kept = "".join(f", {ident(k)}" for k in passthrough)
    return f"""SELECT _n, {keep}, extra, _bad_type, {row_hash_sql(ds)} AS _row_hash{kept},
                      CASE WHEN _bad_type <> '' OR coalesce({suspect}, false) THEN {raw_sql} END AS _raw
        FROM (SELECT *, {bad_sql} AS _bad_type FROM (
              SELECT *, {typed} FROM (
              SELECT _n, {', '.join(f'{ident(c)} AS {ident(r)}' for c, r in zip(columns, raws))}, {texts},
                     {extra_sql} AS extra{kept} FROM {source})))"""


def row_hash_sql(ds: Dataset) -> str:
    """A stable content hash of a typed row (timestamps as epoch microseconds: formatting them is slow)."""
    def text(c: str) -> str:
        value = f"epoch_us({ident(c)})" if c != "extra" and ds.column(c).type == "timestamp" else ident(c)
        return f"coalesce(CAST({value} AS VARCHAR), '\u2400')"

    return f"md5_number(concat_ws(chr(31), {', '.join(text(c) for c in ds.column_names + ['extra'])}))"


def bad_type_sql(typed: str) -> str:
    """Problems (_line, reason, column) of the values that did not parse, from a :func:`typed_sql` table."""
    return (f"""SELECT _line, 'bad_type' AS reason, unnest(string_split(_bad_type, ',')) AS "column"
                FROM {typed} WHERE _bad_type <> ''""")


def repeated_keys_sql(ds: Dataset, rows: str) -> str:
    """The keys (``_key``) that more than one row of ``rows`` carries: one pass, no join."""
    return f"SELECT {key_expr_sql(ds)} AS _key FROM {rows} GROUP BY ALL HAVING count(*) > 1"


def duplicates_sql(ds: Dataset, repeated: str, valid: str) -> str:
    """Rows of ``valid`` (rows without row-level problems, with _line and _row_hash) that repeat a key within
    one file: (_line, reason, column). ``repeated`` (:func:`repeated_keys_sql`) holds at least their keys.

    Exact copies count once: the first by line is kept, the others are ``duplicate``; rows sharing a
    key with different values are all ``duplicate_key_conflict`` (exact copies of them too).
    """
    return f"""WITH members AS (SELECT _line, {key_expr_sql(ds)} AS _key, _row_hash FROM {valid}
                              WHERE {key_expr_sql(ds)} IN (SELECT _key FROM {repeated})),
        verdict AS (SELECT _key, count(DISTINCT _row_hash) > 1 AS conflict, min(_line) AS first
                    FROM members GROUP BY _key HAVING count(*) > 1)
        SELECT m._line, CASE WHEN v.conflict THEN 'duplicate_key_conflict' ELSE 'duplicate' END AS reason,
               {literal(','.join(ds.key))} AS "column"
        FROM members m JOIN verdict v USING (_key) WHERE v.conflict OR m._line <> v.first"""


def quarantine_sql(problems: str, raws: str) -> str:
    """One row per bad line: _line, reason (primary code), details, raw (JSON of the delivered text row).

    ``problems`` holds (_line, reason, column); ``raws`` (_line, raw) the delivered rows. A value
    that did not parse is reported once, as ``bad_type`` (not also as missing).
    """
    rank = " ".join(f"WHEN {literal(r)} THEN {i}" for i, r in enumerate(_REASON_PRIORITY))
    return f"""WITH p AS (
            SELECT DISTINCT _line, reason, "column", CASE reason {rank} ELSE {len(_REASON_PRIORITY)} END AS rank
            FROM {problems} a
            WHERE reason = 'bad_type' OR NOT EXISTS (
                SELECT 1 FROM {problems} b WHERE b.reason = 'bad_type' AND b._line = a._line AND b."column" = a."column")),
        g AS (SELECT _line, first(reason ORDER BY rank, reason, "column") AS reason,
                     string_agg("column" || ': ' || reason, '; ' ORDER BY rank, reason, "column") AS details
              FROM p GROUP BY _line)
        SELECT g._line, g.reason, g.details, r.raw FROM g JOIN {raws} r ON r._line = g._line"""
