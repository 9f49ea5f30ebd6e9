"""Provider: an organisation that gives aid."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry import relay

from hub.domain.providers import ProviderView
from hub.schema.context import Info
from hub.schema.ids import uuid_of
from hub.vocabulary import NeedCategory, ProviderKind, ProviderStatus


@strawberry.federation.type(
    keys=["id"], description="An organisation that gives aid, where it works and on what."
)
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
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Provider | None:
        """A federation reference, seen as ``node(id)`` would see it: null when out of reach."""
        view = await info.context.loaders.provider.load(uuid_of(id, "Provider"))
        return None if view is None else cls.from_view(view)

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
