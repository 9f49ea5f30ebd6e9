"""Relay connections: edges with opaque cursors and a page info, built from a domain page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from hub.domain.pagination import Page

NodeT = TypeVar("NodeT")
ViewT = TypeVar("ViewT")


# Every Relay-paged subgraph defines PageInfo alike; shareable, it composes with theirs.
@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of this page, for clients that need no cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


def connection_of(page: Page[ViewT], to_node: Callable[[ViewT], NodeT]) -> Connection[NodeT]:
    edges = [
        Edge(cursor=cursor, node=to_node(item))
        for item, cursor in zip(page.items, page.cursors, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
        ),
    )
