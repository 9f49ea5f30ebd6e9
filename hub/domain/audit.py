"""Audit events, written in the same transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.db.models import AuditEvent


def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: object,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it commits (or rolls back) with the change itself."""
    event = AuditEvent(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        actor_member_id=principal.member_id if principal else None,
        actor_provider_id=principal.provider_id if principal else None,
        client_id=principal.client_id if principal else None,
        data=data or {},
    )
    session.add(event)
    return event
