"""Root fields and mutations for children."""

from __future__ import annotations

from typing import Any

import strawberry

from hub.domain import children, dedup
from hub.resolvers.ids import uuid_of
from hub.resolvers.paging import page_of
from hub.schema.children import Child
from hub.schema.context import Info
from hub.schema.dedup import LikelyDuplicate
from hub.schema.inputs import ChildFilter, RegisterChildInput, UpdateChildInput
from hub.schema.pagination import Connection, connection_of
from hub.schema.payloads import ChildPayload


async def resolve_children(
    info: Info,
    filter: ChildFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Child]:
    principal = info.context.require_principal()
    page = page_of(info, first, after, kind=children.CURSOR_KIND)
    where = children.ChildFilter()
    if filter is not None:
        where = children.ChildFilter(
            jurisdiction=filter.jurisdiction,
            guardianships=tuple(filter.guardianships or ()),
            with_open_needs=filter.with_open_needs,
        )
    async with info.context.sessions() as session:
        found = await children.list_children(session, principal, where, page)
    return connection_of(found, Child.from_view)


async def resolve_child(info: Info, id: strawberry.ID) -> Child | None:
    info.context.require_principal()
    view = await info.context.loaders.child.load(uuid_of(id, "Child"))
    return None if view is None else Child.from_view(view)


async def register_child(
    info: Info, input: RegisterChildInput, idempotency_key: str | None = None
) -> ChildPayload:
    principal = info.context.require_principal()
    identity = input.identity
    data = children.NewChild(
        region_code=input.region_code,
        birth_date=input.birth_date,
        guardianship=input.guardianship,
        father_away=input.father_away,
        mother_away=input.mother_away,
        sex=input.sex,
        parents_away_since=input.parents_away_since,
        parents_work_location=input.parents_work_location,
        school=input.school,
        identity=children.IdentityInput(
            full_name=identity.full_name,
            id_number=identity.id_number,
            address=identity.address,
            guardian_name=identity.guardian_name,
            guardian_relation=identity.guardian_relation,
            guardian_phone=identity.guardian_phone,
        ),
        consent=None
        if input.consent is None
        else children.ConsentInput(
            covers=tuple(input.consent.covers),
            given_by=input.consent.given_by,
            given_at=input.consent.given_at,
        ),
    )
    async with info.context.sessions.begin() as session:
        view = await children.register_child(
            session,
            principal,
            data,
            id_hash_key=info.context.id_hash_key,
            idempotency_key=idempotency_key,
        )
        duplicates = await dedup.likely_duplicates(session, principal, view.id)
    return ChildPayload(
        child=Child.from_view(view),
        likely_duplicates=[LikelyDuplicate.from_view(found) for found in duplicates],
    )


def given_fields(input: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields the client sent (an explicit null included), leaving out the ones it did not."""
    return {
        name: getattr(input, name) for name in names if getattr(input, name) is not strawberry.UNSET
    }


async def update_child(info: Info, input: UpdateChildInput) -> ChildPayload:
    principal = info.context.require_principal()
    patch = children.ChildPatch(
        id=uuid_of(input.id, "Child"),
        version=input.version,
        changes=given_fields(input, children.CASE_FIELDS),
        identity_changes=given_fields(input.identity, children.IDENTITY_FIELDS)
        if input.identity
        else {},
    )
    async with info.context.sessions.begin() as session:
        view = await children.update_child(session, principal, patch)
    return ChildPayload(child=Child.from_view(view))
