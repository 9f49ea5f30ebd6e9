"""The root types, assembled in one place from the resolvers, and the federation schema.

This is the only module in ``hub.schema`` that imports ``hub.resolvers``: types stay free of
resolvers, and the roots bind fields to them.
"""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.federation import Schema
from strawberry.types import ExecutionContext

import hub.schema.enums  # noqa: F401 - registers the vocabulary as GraphQL enums
from hub.resolvers import children as child_fields
from hub.resolvers import needs as need_fields
from hub.resolvers import node as node_fields
from hub.resolvers import providers as provider_fields
from hub.resolvers import regions as region_fields
from hub.resolvers import viewer as viewer_fields
from hub.schema.children import Child
from hub.schema.errors import ErrorCodes
from hub.schema.needs import Need
from hub.schema.pagination import Connection
from hub.schema.payloads import ChildPayload, NeedPayload
from hub.schema.providers import Provider
from hub.schema.regions import Region
from hub.schema.viewer import Viewer


@strawberry.type
class Query:
    node: relay.Node | None = strawberry.field(
        resolver=node_fields.resolve_node, description="Any object by its global ID."
    )
    viewer: Viewer = strawberry.field(resolver=viewer_fields.resolve_viewer)
    regions: Connection[Region] = strawberry.field(
        resolver=region_fields.resolve_regions,
        description="The regions directly under parentCode, or the provinces.",
    )
    region: Region | None = strawberry.field(resolver=region_fields.resolve_region)
    providers: Connection[Provider] = strawberry.field(resolver=provider_fields.resolve_providers)
    children: Connection[Child] = strawberry.field(
        resolver=child_fields.resolve_children,
        description="Children within your jurisdictions, ordered by register code.",
    )
    child: Child | None = strawberry.field(resolver=child_fields.resolve_child)
    needs: Connection[Need] = strawberry.field(
        resolver=need_fields.resolve_needs,
        description="Needs within your jurisdictions; by default most urgent first, then oldest.",
    )
    need: Need | None = strawberry.field(resolver=need_fields.resolve_need)


@strawberry.type
class Mutation:
    register_child: ChildPayload = strawberry.mutation(resolver=child_fields.register_child)
    update_child: ChildPayload = strawberry.mutation(resolver=child_fields.update_child)
    open_need: NeedPayload = strawberry.mutation(resolver=need_fields.open_need)
    update_need: NeedPayload = strawberry.mutation(resolver=need_fields.update_need)
    cancel_need: NeedPayload = strawberry.mutation(resolver=need_fields.cancel_need)


class HubSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Expected failures are answers, not incidents: ErrorCodes logs the internal ones."""


def build_schema(extra_extensions: list[type[SchemaExtension]] | None = None) -> Schema:
    return HubSchema(
        query=Query,
        mutation=Mutation,
        types=[Region, Provider, Child, Need],
        extensions=[ErrorCodes, *(extra_extensions or [])],
        federation_version="2.7",
    )
