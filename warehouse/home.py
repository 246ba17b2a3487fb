"""Where Orbit keeps things: ORBIT_HOME, ORBIT_PLAN, and the folders under them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Nothing may call out of the machine.
for _k, _v in {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",  # `orbit -v` raises it to INFO
}.items():
    os.environ.setdefault(_k, _v)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PLAN = PACKAGE_ROOT / "plans" / "default.yaml"


@dataclass(frozen=True)
class Home:
    """The runtime data directory (``ORBIT_HOME``, default ``./data``)."""

    root: Path

    @classmethod
    def from_env(cls, root: str | Path | None = None) -> Home:
        return cls(Path(root or os.environ.get("ORBIT_HOME") or "data").resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published" / "analytics.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def sources(self) -> Path:
        """Source mappings: ``sources/<name>.yaml``, their files delivered to ``landing/<name>/``."""
        return self.root / "sources"

    def ensure(self) -> Home:
        """Create the home's folders that are missing: the private ones (landing, quarantine, exports)
        owner-only, ``published/`` readable by analysts, the home itself traversable so they reach it."""
        from schemas.contracts import DATASETS

        _make_dir(self.root, PUBLIC_DIR)
        _make_dir(self.published.parent, PUBLIC_DIR)
        for d in (self.exports, self.quarantine, self.quarantine / "files", self.landing,
                  *(self.landing / name for name in DATASETS)):
            _make_dir(d, PRIVATE_DIR)
        return self


#: Modes of what Orbit creates under a home: compensation data is its owner's alone (the CLI also sets
#: umask 077); only the analysts' snapshot under published/ is readable by others.
PRIVATE_DIR, PRIVATE_FILE, PUBLIC_DIR, PUBLIC_FILE = 0o700, 0o600, 0o755, 0o644


def _make_dir(path: Path, mode: int) -> None:
    """``mkdir -p`` giving the folders it creates exactly ``mode`` (whatever the umask); existing folders
    keep theirs (an administrator may have opened one on purpose)."""
    if path.is_dir():
        return
    if not path.parent.exists():
        _make_dir(path.parent, mode)
    try:
        path.mkdir()
    except FileExistsError:
        return
    os.chmod(path, mode)


def make_private(path: Path) -> None:
    """Owner-only: 0600 for a file, 0700 for a folder."""
    os.chmod(path, PRIVATE_DIR if Path(path).is_dir() else PRIVATE_FILE)


def make_public(path: Path) -> None:
    """Readable by everyone (the analysts' snapshot): 0644 for a file, 0755 for a folder."""
    os.chmod(path, PUBLIC_DIR if Path(path).is_dir() else PUBLIC_FILE)


def plan_path(explicit: str | Path | None = None) -> Path:
    """``--plan`` beats ``ORBIT_PLAN`` beats the embedded default plan."""
    return Path(explicit or os.environ.get("ORBIT_PLAN") or DEFAULT_PLAN)
