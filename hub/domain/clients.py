"""OAuth clients: machines acting for a provider, registered, rotated and revoked by admins.

A client's secret is shown once, when it is made, and kept only as an argon2 hash. A client that
acts on its own (``client_credentials``) holds role grants like a member does, checked by the
same rule: nobody grants a role wider than their own. An external identity provider is
registered the same way, with its issuer and JWKS URL instead of a secret.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio.to_thread
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.oauth.models import AUTH_METHODS, GRANT_TYPES, SECRET_METHODS, redirect_uri_problem
from hub.auth.passwords import hash_secret, new_token
from hub.auth.policy import ALL_SCOPES, Permission, may, may_everywhere
from hub.auth.principal import Principal
from hub.db.models import OAuthClient, Provider, RoleGrant, TokenFamily
from hub.domain import audit
from hub.domain.clock import utcnow
from hub.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.domain.members import GrantView, grant_view, provider_for_grant
from hub.settings import Settings
from hub.vocabulary import Role

EXTERNAL = "external"


@dataclass(frozen=True)
class NewClient:
    provider_id: uuid.UUID
    name: str
    auth_method: str
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    jwks: dict[str, Any] | None = None
    # Roles the client holds when it acts on its own (client_credentials, external tokens).
    grants: tuple[tuple[Role, str], ...] = ()
    external_issuer: str | None = None
    external_jwks_uri: str | None = None
    external_audience: str | None = None


@dataclass(frozen=True)
class ClientView:
    id: uuid.UUID
    client_id: str
    name: str
    provider_id: uuid.UUID
    auth_method: str
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    external_issuer: str | None
    grants: tuple[GrantView, ...] = field(default=())
    trusted_documents_only: bool = False


@dataclass(frozen=True)
class Issued:
    client: ClientView
    # Shown once; None for private_key_jwt and external clients, and on replays.
    client_secret: str | None


def _view(client: OAuthClient, grants: Sequence[RoleGrant] = ()) -> ClientView:
    return ClientView(
        id=client.id,
        client_id=client.client_id,
        name=client.name,
        provider_id=client.provider_id,
        auth_method=client.token_endpoint_auth_method,
        grant_types=tuple(client.grant_types),
        scopes=tuple(client.scopes),
        redirect_uris=tuple(client.redirect_uris),
        created_at=client.created_at,
        revoked_at=client.revoked_at,
        external_issuer=client.external_issuer,
        grants=tuple(grant_view(grant) for grant in grants),
        trusted_documents_only=client.trusted_documents_only,
    )


def _check_manager(principal: Principal, provider: Provider) -> None:
    """Clients of one's own provider for its admins; of any provider in reach for platform
    admins."""
    own = provider.id == principal.provider_id and may(principal, Permission.MANAGE_CLIENTS)
    platform = may_everywhere(principal, Permission.MANAGE_PROVIDERS, provider.jurisdictions)
    if not (own or (platform and may(principal, Permission.MANAGE_CLIENTS))):
        raise Forbidden("managing this provider's clients is for its admins")


def check_public_keys(jwks: dict[str, Any] | None) -> dict[str, Any]:
    """A JWK set of public, asymmetric keys: what private_key_jwt verifies assertions with."""
    if not jwks:
        raise InvalidInput(
            "private_key_jwt needs the client's public keys (a JWK set)", field="jwks"
        )
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("the JWK set is malformed", field="jwks") from exc
    if not key_set.keys:
        raise InvalidInput("the JWK set holds no key", field="jwks")
    for key in key_set.keys:
        if key.key_type not in ("RSA", "EC", "OKP"):
            raise InvalidInput("only RSA, EC or OKP public keys are accepted", field="jwks")
        if key.is_private:
            raise InvalidInput("send public keys only; keep the private key", field="jwks")
    return {"keys": [key.as_dict(private=False) for key in key_set.keys]}


def _check(data: NewClient) -> None:
    name = data.name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("give a name of 1 to 200 characters", field="name")
    if data.auth_method not in (*AUTH_METHODS, EXTERNAL):
        raise InvalidInput(
            f"the authentication method is one of {AUTH_METHODS}", field="authMethod"
        )
    unknown = set(data.grant_types) - set(GRANT_TYPES)
    if unknown or (not data.grant_types and data.auth_method != EXTERNAL):
        raise InvalidInput(f"grant types are among {GRANT_TYPES}", field="grantTypes")
    if "refresh_token" in data.grant_types and "authorization_code" not in data.grant_types:
        raise InvalidInput("refresh tokens come with authorization_code", field="grantTypes")
    if not data.scopes or set(data.scopes) - set(ALL_SCOPES):
        raise InvalidInput("scopes are among the hub's permissions", field="scopes")
    if ("authorization_code" in data.grant_types) != bool(data.redirect_uris):
        raise InvalidInput(
            "redirect URIs are for authorization_code clients, and those need one",
            field="redirectUris",
        )
    for uri in data.redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise InvalidInput(f"{uri!r}: {problem}", field="redirectUris")
    acting_alone = "client_credentials" in data.grant_types or data.auth_method == EXTERNAL
    if acting_alone and not data.grants:
        raise InvalidInput("a client that acts on its own needs at least one role", field="grants")
    if data.grants and not acting_alone:
        raise InvalidInput("roles are for clients that act on their own", field="grants")
    if data.auth_method == EXTERNAL:
        if not (data.external_issuer and data.external_jwks_uri):
            raise InvalidInput("an external identity provider needs its issuer and JWKS URL")
        if data.grant_types:
            raise InvalidInput("an external identity provider has no grant types here")
        for uri in (data.external_issuer, data.external_jwks_uri):
            if not uri.startswith("https://") and redirect_uri_problem(uri) is not None:
                raise InvalidInput(f"{uri!r} must be an https URL", field="externalIssuer")


async def register_client(
    session: AsyncSession, principal: Principal, data: NewClient, *, settings: Settings
) -> Issued:
    _check(data)
    provider = await session.get(Provider, data.provider_id)
    if provider is None:
        raise NotFound("no such provider", field="providerId")
    _check_manager(principal, provider)
    checked = [
        await provider_for_grant(session, principal, provider.id, role, where)
        for role, where in data.grants
    ]
    jwks = check_public_keys(data.jwks) if data.auth_method == "private_key_jwt" else None
    secret = new_token(32) if data.auth_method in SECRET_METHODS else None
    secret_hash = await anyio.to_thread.run_sync(hash_secret, settings, secret) if secret else None
    if data.external_issuer and await session.scalar(
        select(OAuthClient.id).where(OAuthClient.external_issuer == data.external_issuer)
    ):
        raise Conflict("that issuer is registered already")
    client = OAuthClient(
        id=uuid.uuid4(),
        client_id=f"hub-{secrets.token_urlsafe(12)}",
        name=data.name.strip(),
        provider_id=provider.id,
        token_endpoint_auth_method=data.auth_method,
        secret_hash=secret_hash,
        jwks=jwks,
        grant_types=sorted(set(data.grant_types)),
        redirect_uris=list(dict.fromkeys(data.redirect_uris)),
        scopes=sorted(set(data.scopes)),
        external_issuer=data.external_issuer,
        external_jwks_uri=data.external_jwks_uri,
        external_audience=data.external_audience,
        created_by_member_id=principal.member_id,
    )
    session.add(client)
    await session.flush()
    grants = [
        RoleGrant(
            id=uuid.uuid4(),
            oauth_client_id=client.id,
            provider_id=provider.id,
            role=role,
            jurisdiction=where,
            granted_by_member_id=principal.member_id,
        )
        for (role, _), (_, where) in zip(data.grants, checked, strict=True)
    ]
    session.add_all(grants)
    await session.flush()
    await session.refresh(client)
    for grant in grants:
        await session.refresh(grant)
    audit.record(
        session,
        principal,
        "client.registered",
        "client",
        client.client_id,
        {
            "provider_id": str(provider.id),
            "auth_method": data.auth_method,
            "scopes": client.scopes,
            "roles": [[role.value, where] for role, where in data.grants],
        },
        region_code=_region_of(provider),
    )
    return Issued(_view(client, grants), secret)


def _region_of(provider: Provider) -> str | None:
    """The provider's one jurisdiction, for the audit log; None when it has several."""
    return provider.jurisdictions[0] if len(provider.jurisdictions) == 1 else None


async def _managed_client(
    session: AsyncSession, principal: Principal, client_id: str
) -> tuple[OAuthClient, Provider]:
    client = await session.scalar(
        select(OAuthClient).where(OAuthClient.client_id == client_id).with_for_update()
    )
    provider = None if client is None else await session.get(Provider, client.provider_id)
    if client is None or provider is None:
        raise NotFound("no such client")
    try:
        _check_manager(principal, provider)
    except Forbidden as exc:
        raise NotFound("no such client") from exc
    return client, provider


async def rotate_client(
    session: AsyncSession,
    principal: Principal,
    client_id: str,
    *,
    settings: Settings,
    jwks: dict[str, Any] | None = None,
) -> Issued:
    """A new secret (or new public keys); the old one stops working at once."""
    client, provider = await _managed_client(session, principal, client_id)
    if client.revoked_at is not None:
        raise Conflict("the client is revoked")
    secret = None
    if client.token_endpoint_auth_method in SECRET_METHODS:
        secret = new_token(32)
        client.secret_hash = await anyio.to_thread.run_sync(hash_secret, settings, secret)
    elif client.token_endpoint_auth_method == "private_key_jwt":
        client.jwks = check_public_keys(jwks)
    else:
        raise Conflict("an external identity provider rotates its own keys")
    client.secret_rotated_at = utcnow()
    audit.record(
        session,
        principal,
        "client.rotated",
        "client",
        client.client_id,
        {"auth_method": client.token_endpoint_auth_method},
        region_code=_region_of(provider),
    )
    await session.flush()
    return Issued(_view(client), secret)


async def revoke_client(session: AsyncSession, principal: Principal, client_id: str) -> ClientView:
    """The client stops working at once: its tokens fail on their next use."""
    client, provider = await _managed_client(session, principal, client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        await session.execute(
            update(TokenFamily)
            .where(TokenFamily.client_id == client.id, TokenFamily.revoked_at.is_(None))
            .values(revoked_at=client.revoked_at, revoked_reason="client revoked")
        )
        audit.record(
            session,
            principal,
            "client.revoked",
            "client",
            client.client_id,
            {},
            region_code=_region_of(provider),
        )
        await session.flush()
    return _view(client)


async def clients_of_provider(
    session: AsyncSession, principal: Principal, provider_id: uuid.UUID
) -> list[ClientView]:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        return []
    try:
        _check_manager(principal, provider)
    except Forbidden:
        return []
    clients = (
        await session.scalars(
            select(OAuthClient)
            .where(OAuthClient.provider_id == provider_id)
            .order_by(OAuthClient.created_at, OAuthClient.id)
        )
    ).all()
    grants = (
        await session.scalars(
            select(RoleGrant).where(
                RoleGrant.oauth_client_id.in_([c.id for c in clients]),
                RoleGrant.revoked_at.is_(None),
            )
        )
    ).all()
    return [_view(c, [g for g in grants if g.oauth_client_id == c.id]) for c in clients]
