"""authlib's request objects, built from a Starlette request that was already read in full.

The body is read on the event loop (authlib reads it synchronously); only form-encoded bodies
are accepted, as RFC 6749 requires, so the hub needs no multipart parser. The URI handed to
authlib is the hub's configured public URL, which is what its HTTPS check must look at behind a
TLS-terminating proxy.

What authlib is given is already well formed: UTF-8, no parameter sent twice (RFC 6749 §3.1,
§3.2: "Request and response parameters MUST NOT be included more than once"), no NUL character
(which no PostgreSQL text can hold), a bounded number of parameters. Anything else is refused
here as ``invalid_request``, before a hook or a query sees it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from starlette.requests import Request

MAX_BODY = 64 * 1024
# More than any OAuth request has (an authorization request with PKCE and the sign-in form
# has about a dozen).
MAX_PARAMETERS = 50
FORM_TYPE = "application/x-www-form-urlencoded"


class BadForm(ValueError):
    """The body is not a form this server reads."""


def parse_parameters(encoded: str, where: str) -> list[tuple[str, str]]:
    """The parameters of a query string or a form body, each name once."""
    try:
        pairs = parse_qsl(
            encoded, keep_blank_values=True, errors="strict", max_num_fields=MAX_PARAMETERS
        )
    except UnicodeDecodeError as exc:
        raise BadForm(f"the {where} is not UTF-8") from exc
    except ValueError as exc:
        raise BadForm(f"the {where} has too many parameters") from exc
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise BadForm(f"the parameter {name[:50]!r} is sent more than once")
        if "\x00" in name or "\x00" in value:
            raise BadForm("a parameter holds a NUL character")
        seen.add(name)
    return pairs


class Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class HubOAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        address: str | None,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._query = Payload(query)
        self._form = Payload(form)
        # GET carries the authorization request in the query; POST carries everything in the body.
        self.payload = self._form if method == "POST" else self._query
        self.address = address

    @property
    def args(self) -> dict[str, str]:
        return self._query.data

    @property
    def form(self) -> dict[str, str]:
        return self._form.data


async def read_request(request: Request, public_url: str) -> HubOAuth2Request:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_TYPE:
            raise BadForm(f"send the parameters as {FORM_TYPE}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise BadForm("the request body is too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadForm("the request body is not UTF-8") from exc
        form = parse_parameters(text, "request body")
    query = parse_parameters(request.url.query, "query string")
    uri = public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    address = request.client.host if request.client else None
    return HubOAuth2Request(request.method, uri, request.headers, query, form, address)
