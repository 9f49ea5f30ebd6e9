"""Provider: an organisation that gives aid."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry import relay

from hub.domain.providers import ProviderView
from hub.vocabulary import NeedCategory, ProviderKind, ProviderStatus


@strawberry.type(description="An organisation that gives aid, where it works and on what.")
class Provider(relay.Node):
    provider_id: strawberry.Private[uuid.UUID]
    name: str
    kind: ProviderKind
    status: ProviderStatus
    jurisdictions: list[str] = strawberry.field(
        description="Region-code prefixes the provider works in; each covers all regions below it."
    )
    categories: list[NeedCategory]
    version: int = strawberry.field(
        description="Send it back when suspending or reactivating; a stale one is refused."
    )

    @classmethod
    def resolve_id(cls, root: Any, *, info: Any) -> str:
        return str(root.provider_id)

    @classmethod
    def from_view(cls, view: ProviderView) -> Provider:
        return cls(
            provider_id=view.id,
            name=view.name,
            kind=view.kind,
            status=view.status,
            jurisdictions=list(view.jurisdictions),
            categories=list(view.categories),
            version=view.version,
        )
