"""Root fields and mutations for needs."""

from __future__ import annotations

import strawberry

from hub.domain import needs
from hub.domain.needs import NeedOrder
from hub.resolvers.children import given_fields
from hub.resolvers.ids import uuid_of
from hub.resolvers.paging import page_of
from hub.schema.context import Info
from hub.schema.inputs import CancelNeedInput, NeedFilter, OpenNeedInput, UpdateNeedInput
from hub.schema.needs import Need
from hub.schema.pagination import Connection, connection_of
from hub.schema.payloads import NeedPayload


async def resolve_needs(
    info: Info,
    filter: NeedFilter | None = None,
    order_by: NeedOrder = NeedOrder.URGENCY,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Need]:
    principal = info.context.require_principal()
    page = page_of(
        info, first, after, kind=needs.cursor_kind(order_by), arity=needs.cursor_arity(order_by)
    )
    where = needs.NeedFilter(order=order_by)
    if filter is not None:
        where = needs.NeedFilter(
            jurisdiction=filter.jurisdiction,
            categories=tuple(filter.categories or ()),
            urgencies=tuple(filter.urgencies or ()),
            statuses=tuple(filter.statuses or ()),
            due_before=filter.due_before,
            changed_since=filter.changed_since,
            order=order_by,
        )
    async with info.context.sessions() as session:
        found = await needs.list_needs(session, principal, where, page)
    return connection_of(found, Need.from_view)


async def resolve_need(info: Info, id: strawberry.ID) -> Need | None:
    info.context.require_principal()
    view = await info.context.loaders.need.load(uuid_of(id, "Need"))
    return None if view is None else Need.from_view(view)


async def open_need(
    info: Info, input: OpenNeedInput, idempotency_key: str | None = None
) -> NeedPayload:
    principal = info.context.require_principal()
    data = needs.NewNeed(
        child_id=uuid_of(input.child_id, "Child", field="childId"),
        category=input.category,
        urgency=input.urgency,
        description=input.description,
        quantity=input.quantity,
        unit=input.unit,
        due_date=input.due_date,
    )
    async with info.context.sessions.begin() as session:
        view = await needs.open_need(session, principal, data, idempotency_key=idempotency_key)
    return NeedPayload(need=Need.from_view(view))


async def update_need(info: Info, input: UpdateNeedInput) -> NeedPayload:
    principal = info.context.require_principal()
    patch = needs.NeedPatch(
        id=uuid_of(input.id, "Need"),
        version=input.version,
        changes=given_fields(input, needs.EDITABLE_FIELDS),
    )
    async with info.context.sessions.begin() as session:
        view = await needs.update_need(session, principal, patch)
    return NeedPayload(need=Need.from_view(view))


async def cancel_need(info: Info, input: CancelNeedInput) -> NeedPayload:
    principal = info.context.require_principal()
    need_id = uuid_of(input.id, "Need")
    async with info.context.sessions.begin() as session:
        view = await needs.cancel_need(session, principal, need_id, input.version, input.reason)
    return NeedPayload(need=Need.from_view(view))
