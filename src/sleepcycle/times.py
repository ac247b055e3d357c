"""Time values: always timezone-aware UTC inside sleepcycle.

Stored as fixed-width ISO 8601 text (``2026-03-01T09:14:00.000000Z``) so that text order is
time order in SQLite. Input without a timezone is read as UTC, never as the machine's local
time, so the same file gives the same store on every machine.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["format_time", "now", "parse_time", "parse_time_or_none"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$", re.I)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def format_time(value: datetime) -> str:
    """Fixed-width UTC text for storage and files."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    v = value.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000, and the width must stay fixed.
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond:06d}Z"
    )


def parse_time(value: str | int | float | datetime) -> datetime:
    """Read an ISO 8601 string, a date, epoch seconds or a datetime as aware UTC.

    Raises ``ValueError`` with a message that says which forms are accepted.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    elif isinstance(value, int | float):
        try:
            parsed = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):  # 1e20, inf, nan
            raise ValueError(
                f"time out of range: {value!r}; give epoch seconds between 0 and 253402300799 "
                "or ISO 8601 like 2026-03-01T09:14:00Z"
            ) from None
    else:
        text = value.strip()
        if not text:
            raise ValueError("empty time; give ISO 8601 like 2026-03-01T09:14:00Z")
        if _DATE_ONLY.match(text):
            text += "T00:00:00"
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            if _NUMBER.match(text):  # epoch seconds as text: "1772356440", "1e20"
                return parse_time(float(text))
            raise ValueError(
                f"not a time: {value!r}; give ISO 8601 like 2026-03-01T09:14:00Z or epoch seconds"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time out of range: {value!r}; give a year from 1 to 9999") from None


def parse_time_or_none(value: str | int | float | datetime | None) -> datetime | None:
    """``parse_time`` that passes ``None`` through."""
    return None if value is None else parse_time(value)
