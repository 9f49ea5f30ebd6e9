"""The size limit of a request body, on every route: 413 ``REQUEST_TOO_LARGE`` beyond it.

A body that declares its length (``Content-Length``) over the limit is refused before the
application sees the request, and before a byte of the body is read: the client that waits for
``100 Continue`` never sends it. A body without a declared length (chunked), or one longer than
it declared, is counted as it streams in, and refused as soon as it passes the limit; the
application has then buffered at most the limit and one chunk. Either way the server closes
the connection once it has answered.

Starlette has a middleware of this kind (``RequestBodyLimitMiddleware``), but it answers in plain
text, and refuses a declared length only once the application reads the body or starts its
answer: ours answers in JSON with a code, and at once.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.protocol.refusals import refusal

REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"


class _TooLarge(Exception):
    """Raised into the application from its ``receive`` when the body passes the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(Headers(scope=scope))
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, refused
            if exceeded and not started:
                # Something caught _TooLarge and answered anyway (an error, typically): the
                # client gets the refusal in its place.
                started = refused = True
                await self._refuse(scope, receive, send)
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if started:
                raise  # half an answer is out: only the server can end it now
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = refusal(
            str(scope.get("path", "")),
            Headers(scope=scope).get("accept"),
            413,
            REQUEST_TOO_LARGE,
            f"the request body is larger than {self.max_bytes} bytes",
            extensions={"maxBytes": self.max_bytes},
            # The rest of the body is not read: the server closes the connection rather than
            # wait for it, or read it only to throw it away (RFC 9110, section 15.5.14).
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None  # none declared, or nonsense the server let through: the count decides
