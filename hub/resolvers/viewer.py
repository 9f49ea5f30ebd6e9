"""``viewer``: the principal behind the request."""

from __future__ import annotations

from hub.schema.context import Info
from hub.schema.providers import Provider
from hub.schema.viewer import Grant, Viewer


async def resolve_viewer(info: Info) -> Viewer:
    principal = info.context.require_principal()
    provider = await info.context.loaders.provider.load(principal.provider_id)
    return Viewer(
        login=principal.label or None,
        client_id=principal.client_id,
        provider=None if provider is None else Provider.from_view(provider),
        grants=[Grant(role=g.role, jurisdiction=g.jurisdiction) for g in principal.grants],
    )
