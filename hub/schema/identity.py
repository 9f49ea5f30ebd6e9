"""The access log of a child's identity: who read it, when, through which client, and why."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from hub.domain.identity import AccessRecordView


@strawberry.type(description="One read of a child's identity.")
class AccessRecord:
    accessed_at: datetime
    member_login: str | None
    provider_id: relay.GlobalID
    client_id: str | None
    purpose: str

    @classmethod
    def from_view(cls, view: AccessRecordView) -> AccessRecord:
        return cls(
            accessed_at=view.accessed_at,
            member_login=view.member_login,
            provider_id=relay.GlobalID("Provider", str(view.provider_id)),
            client_id=view.client_id,
            purpose=view.purpose,
        )
