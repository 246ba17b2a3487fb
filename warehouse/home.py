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

    def ensure(self) -> Home:
        from schemas.contracts import DATASETS

        for d in (self.root, self.published.parent, self.exports, self.quarantine / "files"):
            d.mkdir(parents=True, exist_ok=True)
        for name in DATASETS:
            (self.landing / name).mkdir(parents=True, exist_ok=True)
        return self


def plan_path(explicit: str | Path | None = None) -> Path:
    """``--plan`` beats ``ORBIT_PLAN`` beats the embedded default plan."""
    return Path(explicit or os.environ.get("ORBIT_PLAN") or DEFAULT_PLAN)
