"""Keyset pagination: a page is the rows after a cursor, never an OFFSET into a large table."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hub.domain.errors import InvalidInput

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    first: int
    after: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    cursors: Sequence[str]
    has_next_page: bool
    # Where the next page starts when the list was read past its last item: a list filtered
    # after reading (candidates compared in Python) stops at a bound, perhaps with few items or
    # none, and goes on from there rather than reading the same rows again.
    read_to: str | None = None

    @property
    def end_cursor(self) -> str | None:
        if self.read_to is not None:
            return self.read_to
        return self.cursors[-1] if self.cursors else None


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, arity: int) -> tuple[Any, ...]:
    """Decode a cursor made by ``encode_cursor`` for the same list; refuse anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("the cursor is malformed", field="after") from exc
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != kind:
        raise InvalidInput("the cursor does not belong to this list", field="after")
    return tuple(value[1:])


def typed_key(after: tuple[Any, ...], *parsers: Callable[[Any], Any]) -> tuple[Any, ...]:
    """Parse a decoded cursor's values; a forged cursor is bad input, never an internal error."""
    try:
        return tuple(parse(value) for parse, value in zip(parsers, after, strict=True))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput("the cursor is malformed", field="after") from exc


def text_value(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def page_request(
    first: int | None, after: str | None, *, kind: str, arity: int, default: int, maximum: int
) -> PageRequest:
    size = default if first is None else first
    if size < 1 or size > maximum:
        raise InvalidInput(f"first must be between 1 and {maximum}", field="first", maximum=maximum)
    return PageRequest(first=size, after=decode_cursor(kind, after, arity) if after else None)


def make_page(rows: Sequence[T], request: PageRequest, kind: str, key: Any) -> Page[T]:
    """Build a page from up to ``first + 1`` rows; the extra row only says there is more."""
    has_next = len(rows) > request.first
    items = rows[: request.first]
    return Page(
        items=items,
        cursors=[encode_cursor(kind, key(item)) for item in items],
        has_next_page=has_next,
    )
