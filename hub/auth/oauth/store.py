"""The authorization server's queries: async, run on the event loop (through the Portal).

One-time things are consumed with a conditional UPDATE .. RETURNING, so that PostgreSQL, not a
check-then-write in Python, decides which of two concurrent requests wins: the loser sees a
used code or a rotated refresh token, and treats it as the replay it is.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.oauth.models import ClientRecord, CodeRecord, MemberRecord, RefreshRecord
from hub.auth.principals import live_client
from hub.db.models import (
    AuthorizationCode,
    Member,
    RefreshToken,
    RevokedAccessToken,
    RoleGrant,
    TokenFamily,
    UsedClientAssertion,
)
from hub.settings import Settings


async def load_client(
    session: AsyncSession, settings: Settings, client_id: str
) -> ClientRecord | None:
    found = await live_client(session, client_id)
    if found is None:
        return None
    client, provider = found
    if client.token_endpoint_auth_method == "external":
        return None  # an external identity provider signs its own tokens; it never asks here
    return ClientRecord(
        pk=client.id,
        client_id=client.client_id,
        name=client.name,
        provider_id=provider.id,
        provider_name=provider.name,
        provider_kind=provider.kind,
        auth_method=client.token_endpoint_auth_method,
        secret_hash=client.secret_hash,
        jwks=client.jwks,
        grant_types=tuple(client.grant_types),
        redirect_uris=tuple(client.redirect_uris),
        scopes=tuple(client.scopes),
        settings=settings,
    )


async def member_of_provider(
    session: AsyncSession, member_id: uuid.UUID, provider_id: uuid.UUID, auth_time: datetime
) -> MemberRecord | None:
    """The member, if they still hold a live role in the provider."""
    row = (
        await session.execute(
            select(Member.id, Member.login)
            .join(RoleGrant, RoleGrant.member_id == Member.id)
            .where(
                Member.id == member_id,
                RoleGrant.provider_id == provider_id,
                RoleGrant.revoked_at.is_(None),
            )
            .limit(1)
        )
    ).first()
    return None if row is None else MemberRecord(row[0], row[1], auth_time)


async def save_code(
    session: AsyncSession,
    *,
    code_hash: str,
    client_pk: uuid.UUID,
    member: MemberRecord,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    code_challenge_method: str,
    expires_at: datetime,
) -> None:
    session.add(
        AuthorizationCode(
            code_hash=code_hash,
            client_id=client_pk,
            member_id=member.id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            auth_time=member.auth_time,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def consume_code(
    session: AsyncSession, code_hash: str, client_pk: uuid.UUID, now: datetime
) -> CodeRecord | None:
    """Use the code once. A code used before revokes everything issued from it (RFC 6749 4.1.2)."""
    used = (
        await session.execute(
            update(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == code_hash,
                AuthorizationCode.client_id == client_pk,
                AuthorizationCode.used_at.is_(None),
            )
            .values(used_at=now)
            .returning(AuthorizationCode)
        )
    ).scalar_one_or_none()
    if used is None:
        reused = await session.scalar(
            select(AuthorizationCode.id).where(
                AuthorizationCode.code_hash == code_hash,
                AuthorizationCode.used_at.is_not(None),
            )
        )
        if reused is not None:
            await revoke_families(
                session, TokenFamily.authorization_code_id == reused, "authorization code reused"
            )
        return None
    if used.expires_at <= now:
        return None
    return CodeRecord(
        id=used.id,
        member_id=used.member_id,
        redirect_uri=used.redirect_uri,
        scope=used.scope,
        code_challenge=used.code_challenge,
        code_challenge_method=used.code_challenge_method,
        auth_time=used.auth_time,
    )


async def start_family(
    session: AsyncSession,
    *,
    client_pk: uuid.UUID,
    member_id: uuid.UUID,
    code_id: uuid.UUID | None,
    scope: str,
    auth_time: datetime,
) -> uuid.UUID:
    family = TokenFamily(
        id=uuid.uuid4(),
        client_id=client_pk,
        member_id=member_id,
        authorization_code_id=code_id,
        scope=scope,
        auth_time=auth_time,
    )
    session.add(family)
    await session.flush()
    return family.id


async def save_refresh_token(
    session: AsyncSession, family_id: uuid.UUID, token_hash: str, expires_at: datetime
) -> None:
    session.add(RefreshToken(token_hash=token_hash, family_id=family_id, expires_at=expires_at))
    await session.flush()


async def _refresh_record(
    session: AsyncSession, token: RefreshToken, *, live: bool
) -> RefreshRecord | None:
    family = await session.get(TokenFamily, token.family_id)
    if family is None:
        return None
    return RefreshRecord(
        family_id=family.id,
        client_pk=family.client_id,
        member_id=family.member_id,
        scope=family.scope,
        auth_time=family.auth_time,
        expires_at=token.expires_at,
        live=live and family.revoked_at is None,
    )


async def rotate_refresh_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> RefreshRecord | None:
    """Use a refresh token once; presenting a rotated one revokes its whole family."""
    token = (
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_hash, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now)
            .returning(RefreshToken)
        )
    ).scalar_one_or_none()
    if token is None:
        replayed = await session.scalar(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == token_hash)
        )
        if replayed is not None:
            await revoke_families(session, TokenFamily.id == replayed, "refresh token reused")
        return None
    if token.expires_at <= now:
        return None
    record = await _refresh_record(session, token, live=True)
    return record if record is not None and record.live else None


async def find_refresh_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> RefreshRecord | None:
    """Look a refresh token up without using it (revocation, introspection)."""
    token = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if token is None:
        return None
    live = token.rotated_at is None and token.expires_at > now
    return await _refresh_record(session, token, live=live)


async def revoke_families(
    session: AsyncSession, condition: ColumnElement[bool], reason: str
) -> None:
    await session.execute(
        update(TokenFamily)
        .where(condition, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
    )


async def family_is_live(session: AsyncSession, family_id: uuid.UUID) -> bool:
    live = await session.scalar(
        select(TokenFamily.revoked_at.is_(None)).where(TokenFamily.id == family_id)
    )
    return bool(live)


async def revoke_access_token(session: AsyncSession, token_id: str, expires_at: datetime) -> None:
    await session.execute(
        insert(RevokedAccessToken)
        .values(jti=token_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
    )


async def access_token_revoked(session: AsyncSession, token_id: str) -> bool:
    found = await session.scalar(
        select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == token_id)
    )
    return found is not None


async def remember_assertion(
    session: AsyncSession, client_id: str, jti: str, expires_at: datetime
) -> bool:
    """Record a client assertion's jti; False if it was seen before (a replay)."""
    inserted = await session.execute(
        insert(UsedClientAssertion)
        .values(client_id=client_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["client_id", "jti"])
        .returning(UsedClientAssertion.jti)
    )
    return inserted.first() is not None


def expiry(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)
