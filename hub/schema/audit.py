"""The audit log: every change, who made it, through which client."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from hub.domain.audit import AuditEventView


@strawberry.type(description="One change, recorded in the same transaction as the change.")
class AuditEvent:
    id: strawberry.ID
    occurred_at: datetime
    action: str
    entity_type: str
    entity_id: str
    actor_member_id: strawberry.ID | None
    actor_provider_id: strawberry.ID | None
    client_id: str | None
    region_code: str | None
    data: JSON

    @classmethod
    def from_view(cls, view: AuditEventView) -> AuditEvent:
        return cls(
            id=strawberry.ID(str(view.id)),
            occurred_at=view.occurred_at,
            action=view.action,
            entity_type=view.entity_type,
            entity_id=view.entity_id,
            actor_member_id=None
            if view.actor_member_id is None
            else strawberry.ID(str(view.actor_member_id)),
            actor_provider_id=None
            if view.actor_provider_id is None
            else strawberry.ID(str(view.actor_provider_id)),
            client_id=view.client_id,
            region_code=view.region_code,
            data=view.data,  # type: ignore[arg-type]  # JSON is NewType over object
        )
