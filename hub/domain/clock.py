"""The current time, in one place, always timezone-aware (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hub.domain.errors import InvalidInput

# China keeps one time zone all year, with no daylight saving.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    # Registers count ages by the calendar date in China.
    return datetime.now(UTC).astimezone(CHINA).date()


def as_utc(moment: datetime, field: str) -> datetime:
    """A time a client sent, which must say its zone, in UTC; refused as bad input otherwise."""
    if moment.tzinfo is None:
        raise InvalidInput(
            "give the time with a time zone, e.g. 2026-01-01T08:00:00+08:00", field=field
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput("the time is out of range", field=field) from exc


def instant(value: object) -> datetime:
    """A time read back from a cursor this hub wrote."""
    if not isinstance(value, str):
        raise TypeError("expected text")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a cursor's time has a time zone")
    return parsed
