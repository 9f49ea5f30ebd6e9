"""Expected failures, each with a stable code that clients can branch on.

The GraphQL layer turns these into errors with ``extensions.code``; anything that is not a
``DomainError`` is an internal error and is masked.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    """Also what a caller sees for a record outside its reach: the two are indistinguishable."""

    code = "NOT_FOUND"


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class StaleVersion(DomainError):
    code = "STALE_VERSION"


class Conflict(DomainError):
    """The request is valid but the record's state does not allow it (e.g. already cancelled)."""

    code = "CONFLICT"
