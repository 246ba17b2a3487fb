"""Owner-only files for results that carry one person's money (simulation comparisons).

Written to a temporary name in the same folder and renamed into place, so a reader never sees half a
file; mode 0600 (folder 0700 when created here).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl


def ensure_private_dir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def write_private_text(path: Path, text: str) -> Path:
    """``text`` (UTF-8) into ``path``, owner-read/write only, atomically."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def write_private_csv(path: Path, frame: pl.DataFrame) -> Path:
    """``frame`` as CSV (header row, ``\\n`` line ends, empty for null), owner-only, atomically."""
    return write_private_text(path, frame.write_csv(include_header=True, null_value="", line_terminator="\n"))
