"""Build a principal from live rows: a role revoked a moment ago no longer counts."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import ARRAY, Select, String, bindparam, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Grant, Principal
from hub.auth.tokens import AccessClaims
from hub.db import raw
from hub.db.models import (
    Member,
    OAuthClient,
    Provider,
    RevokedAccessToken,
    RoleGrant,
    TokenFamily,
)
from hub.vocabulary import NeedCategory, ProviderStatus, Role


def _served(categories: Any) -> frozenset[NeedCategory]:
    """The provider's categories as the principal carries them: read with its roles, on every
    request, so that a category the provider stops serving stops counting at once."""
    return frozenset(NeedCategory(category) for category in categories or ())


# As text: the raw path (``hub.db.raw``) reads an array of text, not one of an enum type.
_SERVED_CATEGORIES = cast(Provider.categories, ARRAY(String)).label("served_categories")


async def member_principal(
    session: AsyncSession, login: str, provider_id: uuid.UUID | None = None
) -> Principal | None:
    """The member ``login`` acting for ``provider_id`` (or their only provider).

    None when the member does not exist, holds no live role in an active provider, or holds
    roles in several providers and did not say which one.
    """
    rows = (
        await session.execute(
            select(
                Member.id,
                Provider.id,
                Provider.kind,
                RoleGrant.role,
                RoleGrant.jurisdiction,
                _SERVED_CATEGORIES,
            )
            .join(RoleGrant, RoleGrant.member_id == Member.id)
            .join(Provider, Provider.id == RoleGrant.provider_id)
            .where(
                Member.login == login,
                RoleGrant.revoked_at.is_(None),
                Provider.status == ProviderStatus.ACTIVE,
            )
        )
    ).all()
    if provider_id is not None:
        rows = [row for row in rows if row[1] == provider_id]
    providers = {row[1] for row in rows}
    if len(providers) != 1:
        return None
    member_id, the_provider, kind = rows[0][0], rows[0][1], rows[0][2]
    return Principal(
        provider_id=the_provider,
        provider_kind=kind,
        member_id=member_id,
        grants=tuple(Grant(role=row[3], jurisdiction=row[4]) for row in rows),
        served_categories=_served(rows[0][5]),
        label=login,
    )


async def _live_grants(session: AsyncSession, *conditions: Any) -> tuple[Grant, ...]:
    rows = (
        await session.execute(
            select(RoleGrant.role, RoleGrant.jurisdiction).where(
                RoleGrant.revoked_at.is_(None), *conditions
            )
        )
    ).all()
    return tuple(Grant(role=role, jurisdiction=jurisdiction) for role, jurisdiction in rows)


def _grants_array(*conditions: Any) -> Any:
    """The live roles matching ``conditions`` as one array of [role, jurisdiction] pairs, to be
    read in the same statement as the client (a correlated subquery)."""
    return (
        select(func.array_agg(func.jsonb_build_array(RoleGrant.role, RoleGrant.jurisdiction)))
        .where(RoleGrant.revoked_at.is_(None), *conditions)
        .scalar_subquery()
    )


def _grants_of(pairs: list[list[str]] | None) -> tuple[Grant, ...]:
    return tuple(Grant(role=Role(role), jurisdiction=where) for role, where in pairs or ())


async def live_client(session: AsyncSession, client_id: str) -> tuple[OAuthClient, Provider] | None:
    """The client and its provider, if the client is not revoked and the provider is active."""
    row = (
        await session.execute(
            select(OAuthClient, Provider)
            .join(Provider, Provider.id == OAuthClient.provider_id)
            .where(
                OAuthClient.client_id == client_id,
                OAuthClient.revoked_at.is_(None),
                Provider.status == ProviderStatus.ACTIVE,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


@functools.cache
def _token_principal_statement(for_member: bool) -> Select[Any]:
    """The statement of ``token_principal``, built once per process for each kind of token and
    executed with the token's values as parameters: building it afresh for every request cost
    more CPU than PostgreSQL spent running it."""
    token_id = bindparam("token_id", type_=RevokedAccessToken.jti.type)
    family_id = bindparam("family_id", type_=TokenFamily.id.type)
    member_id = bindparam("member_id", type_=Member.id.type)
    revoked_token = (
        select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == token_id).exists()
    )
    family_live = (
        select(TokenFamily.id)
        .where(
            TokenFamily.id == family_id,
            TokenFamily.revoked_at.is_(None),
            TokenFamily.client_id == OAuthClient.id,
            TokenFamily.member_id == member_id,
        )
        .exists()
    )
    login = select(Member.login).where(Member.id == member_id).scalar_subquery()
    # A client token acts with the client's roles; a member's token with the member's roles in
    # the client's provider.
    whose = (
        (RoleGrant.member_id == member_id, RoleGrant.provider_id == Provider.id)
        if for_member
        else (RoleGrant.oauth_client_id == OAuthClient.id,)
    )
    # Plain columns, not entities: building ORM objects for every request cost more CPU than
    # the statement itself.
    return (
        select(
            OAuthClient.client_id,
            OAuthClient.name,
            OAuthClient.scopes,
            OAuthClient.trusted_documents_only,
            Provider.id,
            Provider.kind,
            _SERVED_CATEGORIES,
            revoked_token.label("token_revoked"),
            family_live.label("family_live"),
            login.label("member_login"),
            _grants_array(*whose).label("grants"),
        )
        .join(Provider, Provider.id == OAuthClient.provider_id)
        .where(
            OAuthClient.client_id == bindparam("client_id", type_=OAuthClient.client_id.type),
            OAuthClient.revoked_at.is_(None),
            Provider.status == ProviderStatus.ACTIVE,
        )
    )


async def token_principal(session: AsyncSession, claims: AccessClaims) -> Principal | str:
    """The principal an access token of the hub's own stands for, read live; or why none.

    One statement: the client with everything that could have been revoked since the token
    was issued (client, provider, the token itself, its authorization, the member) and the live
    roles it acts with, so that every request pays a single round trip for who is asking.
    """
    connection = await session.connection()  # the Core path: cheaper than the ORM's
    for_member = claims.member_id is not None
    values = {
        "token_id": claims.token_id,
        "family_id": claims.family_id,
        "member_id": claims.member_id,
        "client_id": claims.client_id,
    }
    found = await raw.rows(connection, _token_principal_statement(for_member), values)
    row = found[0] if found else None
    if row is None:
        return "the token's client was revoked, or its provider suspended"
    (
        client_id,
        client_name,
        client_scopes,
        trusted_documents_only,
        provider_id,
        provider_kind,
        served_categories,
        is_revoked,
        is_family_live,
        member_login,
        granted,
    ) = row
    if is_revoked:
        return "the access token was revoked"
    scopes = claims.scopes & frozenset(client_scopes)
    grants = _grants_of(granted)
    if claims.member_id is None:
        if not grants:
            return "the client holds no live role"
        return Principal(
            provider_id=provider_id,
            provider_kind=provider_kind,
            client_id=client_id,
            trusted_documents_only=trusted_documents_only,
            grants=grants,
            scopes=scopes,
            served_categories=_served(served_categories),
            label=client_name,
        )
    if claims.family_id is None or not is_family_live:
        return "the authorization behind this token was revoked"
    if member_login is None or not grants:
        return "the member holds no live role in the client's provider"
    return Principal(
        provider_id=provider_id,
        provider_kind=provider_kind,
        member_id=claims.member_id,
        client_id=client_id,
        trusted_documents_only=trusted_documents_only,
        grants=grants,
        scopes=scopes,
        served_categories=_served(served_categories),
        label=member_login,
    )


async def external_principal(
    session: AsyncSession,
    client: OAuthClient,
    provider: Provider,
    subject: str,
    scopes: frozenset[str],
) -> Principal | str:
    """A token from a trusted external identity provider acts as the client it is mapped to."""
    grants = await _live_grants(session, RoleGrant.oauth_client_id == client.id)
    if not grants:
        return "the identity provider's client holds no live role"
    return Principal(
        provider_id=provider.id,
        provider_kind=provider.kind,
        client_id=client.client_id,
        trusted_documents_only=client.trusted_documents_only,
        grants=grants,
        scopes=scopes & frozenset(client.scopes),
        served_categories=_served(provider.categories),
        label=f"{client.external_issuer} {subject}",
    )
