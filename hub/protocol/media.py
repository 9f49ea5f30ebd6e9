"""Which media type a response is written in, from the request's Accept header.

The GraphQL-over-HTTP specification defines ``application/graphql-response+json``, whose status
codes tell request errors (4xx, no ``data``) from execution results (200), and keeps the older
``application/json``, which answers 200 to every well-formed request.

Each of the two gets the quality of the most specific range of the Accept header that matches
it (RFC 9110, section 12.5.1): ``application/json;q=0, */*`` refuses ``application/json`` but
still accepts ``application/graphql-response+json`` through ``*/*``. The higher quality wins;
``q=0`` means "not acceptable", and when neither is acceptable the answer is 406. Between equal
qualities, a type named outright beats one matched by a wildcard; named alike,
``application/graphql-response+json`` wins; both reached only through a wildcard (``*/*``,
``application/*``), or no Accept header at all, get ``application/json``, as legacy clients
expect.
"""

from __future__ import annotations

import math

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

# How specifically a range matched a type: by name, by ``type/*``, by ``*/*``.
_EXACT, _SUBTYPE_WILDCARD, _ANY = 2, 1, 0


def _quality(value: str) -> float:
    """A ``q`` parameter's value; one that is not a number counts as "not acceptable"."""
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return min(max(quality, 0.0), 1.0) if math.isfinite(quality) else 0.0


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
                quality = _quality(value.strip())
        ranges.append((media.lower(), quality))
    return ranges


def _specificity(media_range: str, media: str) -> int | None:
    if media_range == media:
        return _EXACT
    if media_range == "*/*":
        return _ANY
    kind, _, subtype = media_range.partition("/")
    if subtype == "*" and kind == media.partition("/")[0]:
        return _SUBTYPE_WILDCARD
    return None


def _offer(media: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The quality the client gives ``media`` and how specifically it named it."""
    matches = [
        (specificity, quality)
        for media_range, quality in ranges
        if (specificity := _specificity(media_range, media)) is not None
    ]
    if not matches:
        return 0.0, _ANY
    specificity = max(found for found, _ in matches)
    # Repeated ranges of one specificity: the most generous wins.
    quality = max(quality for found, quality in matches if found == specificity)
    return quality, specificity


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    if not ranges:
        return JSON  # a header of only commas and blanks names nothing: as if absent

    def rank(media: str) -> tuple[float, int, bool]:
        quality, specificity = _offer(media, ranges)
        preferred = GRAPHQL_RESPONSE if specificity == _EXACT else JSON
        return quality, specificity, media == preferred

    best = max((GRAPHQL_RESPONSE, JSON), key=rank)
    return best if rank(best)[0] > 0 else None


def body_media_type(content_type: str | None) -> str:
    """The media type of a request's body, from its Content-Type header, without parameters
    and in lower case (media types are case-insensitive): ``application/json`` for
    ``Application/JSON; charset=utf-8``."""
    return (content_type or "").partition(";")[0].strip().lower()
