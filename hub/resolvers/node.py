"""``node(id)``: any object by its global ID, through the loaders and checks of its own field."""

from __future__ import annotations

import uuid

import strawberry
from strawberry import relay

from hub.domain.errors import InvalidInput
from hub.domain.jurisdiction import validate_prefix
from hub.resolvers.ids import parse_global_id
from hub.schema.children import Child
from hub.schema.context import Info
from hub.schema.coordination import Claim, Delivery
from hub.schema.merges import ChildMerge
from hub.schema.needs import Need
from hub.schema.providers import Provider
from hub.schema.regions import Region


async def resolve_node(info: Info, id: strawberry.ID) -> relay.Node | None:
    info.context.require_principal()
    global_id = parse_global_id(id)
    loaders = info.context.loaders
    key = global_id.node_id
    if global_id.type_name == "Region":
        region = await loaders.region.load(validate_prefix(key, field="id"))
        return None if region is None else Region.from_view(region)
    try:
        node_uuid = uuid.UUID(key)
    except ValueError as exc:
        raise InvalidInput("the ID is malformed", field="id") from exc
    if global_id.type_name == "Child":
        child = await loaders.child.load(node_uuid)
        return None if child is None else Child.from_view(child)
    if global_id.type_name == "Need":
        need = await loaders.need.load(node_uuid)
        return None if need is None else Need.from_view(need)
    if global_id.type_name == "Provider":
        provider = await loaders.provider.load(node_uuid)
        return None if provider is None else Provider.from_view(provider)
    if global_id.type_name == "Claim":
        claim = await loaders.claim.load(node_uuid)
        return None if claim is None else Claim.from_view(claim)
    if global_id.type_name == "Delivery":
        delivery = await loaders.delivery.load(node_uuid)
        return None if delivery is None else Delivery.from_view(delivery)
    if global_id.type_name == "ChildMerge":
        merge = await loaders.merge.load(node_uuid)
        return None if merge is None else ChildMerge.from_view(merge)
    raise InvalidInput("the ID is malformed", field="id")
