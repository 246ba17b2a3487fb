"""The landing zone: finding delivered files, hashing them, reading them as text.

Every reader returns an all-Utf8 polars frame with ``_line`` (the line of the row in a
CSV or JSON Lines file, the 1-based record number in a Parquet file), so one set of
casting rules (derived from the contract) applies to every format. A file that cannot
be read at all raises :class:`RejectedFile` with a message naming the file, the line
and the problem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from schemas.contracts import DATASETS

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: Files still being written or markers; never ingested.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".done", ".reason")


class RejectedFile(Exception):
    """A whole file that cannot be ingested. ``line`` is 0 when the problem is not on one line."""

    def __init__(self, path: Path, problem: str, line: int = 0) -> None:
        self.path, self.problem, self.line = path, problem, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class LandedFile:
    path: Path
    dataset: str | None  # None: the folder is not a known dataset
    mtime: dt.datetime

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


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
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RejectedFile(
            path, f"not valid UTF-8 (byte 0x{data[e.start]:02x}); re-export the file as UTF-8", line
        ) from None


def _to_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed columns (Parquet, JSON) to the text a CSV would carry."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%dT%H:%M:%S%.f%:z" if dtype.time_zone else "%Y-%m-%dT%H:%M:%S%.f"
            exprs.append(col.dt.strftime(fmt).alias(name))
        elif dtype == pl.Date:
            exprs.append(col.dt.strftime("%Y-%m-%d").alias(name))
        elif isinstance(dtype, (pl.List, pl.Struct, pl.Array)):
            exprs.append(pl.struct(col).struct.json_encode().str.extract(r"^\{[^:]*:(.*)\}$").alias(name))
        else:
            exprs.append(col.cast(pl.Utf8).alias(name))
    return frame.select(exprs)


def read_text(path: Path) -> pl.DataFrame:
    """Read a delivered file as text rows with ``_line``; raise :class:`RejectedFile` if unreadable."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RejectedFile(path, f"unknown file type {path.suffix!r}; deliver .csv, .parquet or .jsonl")
    data = path.read_bytes()
    if not data.strip():
        raise RejectedFile(path, "the file is empty")
    if fmt == "csv":
        text = _decode(path, data)
        try:
            frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False)
        except pl.exceptions.PolarsError as e:
            raise RejectedFile(path, f"unreadable CSV: {str(e).splitlines()[0]}") from None
        first = 2
    elif fmt == "jsonl":
        text = _decode(path, data)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    if not isinstance(json.loads(line), dict):
                        raise ValueError("each line must be a JSON object")
                except ValueError as e:
                    raise RejectedFile(path, f"malformed JSON line: {e}", number) from None
        try:
            frame = _to_text(pl.read_ndjson(io.StringIO(text), infer_schema_length=None))
        except (pl.exceptions.PolarsError, TypeError, ValueError) as e:
            raise RejectedFile(
                path, f"JSON values cannot be read as one table (nested or mixed types?): {str(e).splitlines()[0]}"
            ) from None
        first = 1
    else:
        try:
            frame = _to_text(pl.read_parquet(io.BytesIO(data)))
        except (pl.exceptions.PolarsError, OSError) as e:
            raise RejectedFile(path, f"unreadable Parquet: {str(e).splitlines()[0]}") from None
        first = 1
    if frame.width == 0 or not any(c.strip() for c in frame.columns):
        raise RejectedFile(path, "no header row", 1)
    return frame.with_row_index("_line", offset=first).with_columns(pl.col("_line").cast(pl.Int64))


def move_rejected(path: Path, quarantine: Path, reason: str) -> Path:
    """Move a rejected file to ``quarantine/files/`` with a ``.reason`` file beside it."""
    target_dir = quarantine / "files" / path.parent.name
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        target = target_dir / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")
    return target
