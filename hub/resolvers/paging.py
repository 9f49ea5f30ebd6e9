"""Page arguments shared by every list field, bounded by the configured maximum."""

from __future__ import annotations

from hub.domain.pagination import PageRequest, page_request
from hub.schema.context import Info


def page_of(
    info: Info, first: int | None, after: str | None, *, kind: str, arity: int = 1
) -> PageRequest:
    settings = info.context.settings
    return page_request(
        first,
        after,
        kind=kind,
        arity=arity,
        default=settings.default_page_size,
        maximum=settings.max_page_size,
    )
