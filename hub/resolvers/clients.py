"""Mutations that register, rotate and revoke OAuth clients, and the clients an admin manages."""

from __future__ import annotations

from typing import Any

import strawberry

from hub.domain import clients
from hub.domain.errors import InvalidInput
from hub.resolvers.ids import uuid_of
from hub.schema.clients import ClientPayload, OAuthClient, RevokeClientPayload
from hub.schema.context import Info
from hub.schema.inputs import RegisterClientInput, RotateClientInput


def _jwks(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("jwks is a JWK set: an object with a list of keys", field="jwks")
    return value


async def register_client(info: Info, input: RegisterClientInput) -> ClientPayload:
    principal = info.context.require_principal()
    data = clients.NewClient(
        provider_id=uuid_of(input.provider_id, "Provider", field="providerId"),
        name=input.name,
        auth_method=input.auth_method,
        grant_types=tuple(input.grant_types),
        scopes=tuple(input.scopes),
        redirect_uris=tuple(input.redirect_uris),
        jwks=_jwks(input.jwks),
        grants=tuple((grant.role, grant.jurisdiction) for grant in input.grants),
    )
    async with info.context.sessions.begin() as session:
        issued = await clients.register_client(
            session, principal, data, settings=info.context.settings
        )
    return ClientPayload.from_domain(issued)


async def rotate_client(info: Info, input: RotateClientInput) -> ClientPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        issued = await clients.rotate_client(
            session,
            principal,
            input.client_id,
            settings=info.context.settings,
            jwks=_jwks(input.jwks),
        )
    return ClientPayload.from_domain(issued)


async def revoke_client(info: Info, client_id: str) -> RevokeClientPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        view = await clients.revoke_client(session, principal, client_id)
    return RevokeClientPayload(client=OAuthClient.from_view(view))


async def resolve_clients(info: Info, provider_id: strawberry.ID) -> list[OAuthClient]:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        found = await clients.clients_of_provider(
            session, principal, uuid_of(provider_id, "Provider", field="providerId")
        )
    return [OAuthClient.from_view(view) for view in found]
