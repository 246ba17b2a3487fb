"""Today's date, injectable: ``ORBIT_TODAY=YYYY-MM-DD`` fixes it (tests, re-running a past day);
otherwise the real clock, read in the plan's timezone."""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

TODAY_ENV = "ORBIT_TODAY"


def today(tz: str) -> dt.date:
    """Today in timezone ``tz`` (``$ORBIT_TODAY`` when set; a ValueError names it when it is not a date)."""
    text = os.environ.get(TODAY_ENV, "").strip()
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{TODAY_ENV}={text!r} is not a date; write it as YYYY-MM-DD") from None
    return dt.datetime.now(ZoneInfo(tz)).date()
