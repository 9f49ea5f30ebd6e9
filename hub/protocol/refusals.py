"""How the hub refuses an HTTP request that no endpoint answers itself - a body over the size
limit, a path nobody serves, a method a route does not take: JSON with a stable code, never
Starlette's plain text.

The body is GraphQL's error list, ``{"errors": [{"message": …, "extensions": {"code": …}}]}``,
in the media type the client accepts (``hub.protocol.media``). On the OAuth endpoints, whose
clients read RFC 6749's error object (section 5.2), it carries that object's ``error`` and
``error_description`` as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hub.protocol.errors import code_for_status
from hub.protocol.media import JSON, negotiate

# Paths whose clients read OAuth 2.0 errors rather than GraphQL's.
OAUTH_PATHS = ("/oauth/", "/.well-known/")


def refusal(
    path: str,
    accept: str | None,
    status: int,
    code: str,
    message: str,
    *,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error = {"message": message, "extensions": {"code": code, **(extensions or {})}}
    content: dict[str, Any] = {"errors": [error]}
    media_type = negotiate(accept) or JSON
    if path.startswith(OAUTH_PATHS):
        # Every refusal of this kind is the client's to fix.
        content = {"error": "invalid_request", "error_description": message, **content}
        media_type = JSON
    return Response(orjson.dumps(content), status, dict(headers or {}), media_type=media_type)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's handler of its own HTTPException (404 for an unknown path, 405 with Allow
    for a method a route does not take), in JSON."""
    assert isinstance(exc, HTTPException)
    return refusal(
        request.url.path,
        request.headers.get("accept"),
        exc.status_code,
        code_for_status(exc.status_code),
        exc.detail,
        headers=exc.headers,
    )
