"""The one source of the current time, so that tests and simulations can move it.

All timestamps are timezone-aware. Calendar dates of the process are Asia/Tokyo dates.
"""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
UTC = dt.timezone.utc

_lock = threading.Lock()
_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Return the current time in UTC, or the time set by :func:`set_now`."""
    with _lock:
        if _frozen is not None:
            return _frozen
    return dt.datetime.now(UTC)


def today() -> dt.date:
    """Return today's date in Asia/Tokyo."""
    return now().astimezone(TOKYO).date()


def set_now(value: dt.datetime | None) -> None:
    """Freeze the clock at ``value`` (aware), or release it with ``None``."""
    global _frozen
    if value is not None and value.tzinfo is None:
        raise ValueError("set_now needs a timezone-aware datetime")
    with _lock:
        _frozen = value.astimezone(UTC) if value is not None else None


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC.

    SQLite returns naive datetimes and PostgreSQL aware ones; every read goes through here.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
