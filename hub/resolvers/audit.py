"""The audit log and the check of its hash chain, for auditors and platform admins."""

from __future__ import annotations

from hub.domain import audit
from hub.resolvers.paging import page_of
from hub.schema.audit import AuditChainCheck, AuditEvent
from hub.schema.context import Info
from hub.schema.inputs import AuditFilter
from hub.schema.pagination import Connection, connection_of


async def resolve_audit_events(
    info: Info,
    filter: AuditFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[AuditEvent]:
    principal = info.context.require_principal()
    page = page_of(info, first, after, kind=audit.CURSOR_KIND)
    where = audit.AuditFilter()
    if filter is not None:
        where = audit.AuditFilter(
            jurisdiction=filter.jurisdiction,
            action=filter.action,
            entity_type=filter.entity_type,
            entity_id=filter.entity_id,
        )
    async with info.context.sessions() as session:
        found = await audit.list_events(session, principal, where, page)
    return connection_of(found, AuditEvent.from_view)


async def resolve_audit_chain(info: Info) -> AuditChainCheck:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        check = await audit.check_chain(session, principal)
    return AuditChainCheck.from_view(check)
