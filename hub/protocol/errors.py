"""Errors of the HTTP exchange itself, answered before (or instead of) executing anything.

Each carries a stable ``extensions.code`` and its HTTP status; ``json_status`` is the status when
the response is ``application/json``, where the specification keeps 200 for requests that
reached GraphQL (an unknown persisted query, an untrusted operation) and 4xx only for malformed
ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException

# The database cannot be reached now (down, restarting, refusing, out of connections, lost
# mid-request): a 503 with Retry-After, masked like an internal error, for the client to retry.
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_UNAVAILABLE_MESSAGE = "the database is unavailable; retry later"
# Long enough for a restart or failover to progress, short enough not to idle once it is back.
RETRY_AFTER_SECONDS = 5


def timeout_error(seconds: float) -> dict[str, Any]:
    """The error of a request that ran past its deadline, as GraphQL's error list holds it."""
    return {
        "message": f"the operation took longer than {seconds} s",
        "extensions": {"code": "TIMEOUT", "timeoutSeconds": seconds},
    }


class ProtocolError(HTTPException):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        json_status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message)
        self.code = code
        self.json_status = status if json_status is None else json_status
        self.headers = dict(headers or {})


def code_for_status(status: int) -> str:
    """The code of an error Strawberry raised with only a status and a message."""
    return {
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        406: "NOT_ACCEPTABLE",
        413: "DOCUMENT_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
    }.get(status, "BAD_REQUEST")
