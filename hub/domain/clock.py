"""The current time, in one place, always timezone-aware (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# China keeps one time zone all year, with no daylight saving.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    # Registers count ages by the calendar date in China.
    return datetime.now(UTC).astimezone(CHINA).date()
