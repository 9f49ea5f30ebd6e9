"""The audit log: every change, who made it, through which client; and the check of its chain."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from hub.domain.audit import AuditEventView
from hub.domain.audit import ChainCheck as ChainCheckView


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
    seq: int = strawberry.field(description="The event's position in the hash chain.")
    prev_hash: str = strawberry.field(description="The hash of the event before it.")
    hash: str = strawberry.field(
        description="SHA-256 over its position, content and the previous hash."
    )

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
            seq=view.seq,
            prev_hash=view.prev_hash,
            hash=view.hash,
        )


@strawberry.type(description="Whether every audit event still matches its hash and its link.")
class AuditChainCheck:
    intact: bool
    checked: int
    broken_at: int | None = strawberry.field(
        description="The position of the first event that does not match."
    )
    problem: str | None

    @classmethod
    def from_view(cls, view: ChainCheckView) -> AuditChainCheck:
        return cls(
            intact=view.intact,
            checked=view.checked,
            broken_at=view.broken_at,
            problem=view.problem,
        )
