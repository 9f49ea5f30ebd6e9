"""Which media type a response is written in, from the request's Accept header.

The GraphQL-over-HTTP specification defines ``application/graphql-response+json``, whose status
codes tell request errors (4xx, no ``data``) from execution results (200), and keeps the older
``application/json``, which answers 200 to every well-formed request. A client that names the
new type gets it, unless it prefers ``application/json`` by quality; a missing Accept header,
``*/*`` or ``application/*`` alone get ``application/json``, as legacy clients expect.
"""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        if not media:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    named = {media: quality for media, quality in ranges}
    wildcard = max(
        (quality for media, quality in ranges if media in ("*/*", "application/*")), default=0.0
    )
    graphql_response = named.get(GRAPHQL_RESPONSE, 0.0)
    json = named.get(JSON, wildcard)
    if graphql_response > 0 and graphql_response >= json:
        return GRAPHQL_RESPONSE
    if json > 0:
        return JSON
    return None
