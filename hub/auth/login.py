"""Members signing in on the hub's login page, and accepting an invitation.

Failed sign-ins are limited within a window (HUB_LOGIN_WINDOW): per account from one address
(HUB_LOGIN_MAX_FAILURES_PER_ACCOUNT), per account from all addresses together
(HUB_LOGIN_MAX_FAILURES_PER_ACCOUNT_TOTAL, much higher) and per address
(HUB_LOGIN_MAX_FAILURES_PER_ADDRESS). Counting an account's failures per address first means that
someone guessing from one place locks the account only for that place, not for its member; a
guesser spread over many addresses still meets the total.
Attempts on one login are serialized with a transaction-level advisory lock, so that parallel
guesses cannot all slip under the limit. When the limit is reached the password is not even
checked, and the answer is the same whether or not the account exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.oauth import store
from hub.auth.oauth.models import MemberRecord
from hub.auth.oauth.portal import Portal
from hub.auth.passwords import token_digest, verify_secret
from hub.db.models import Invitation, LoginAttempt, Member, MemberCredential, RoleGrant
from hub.settings import Settings

LOCKED = "Too many failed sign-ins. Wait a while, then try again."
WRONG = "Wrong login or password."
NO_ROLE = "Your account has no role at the provider this application acts for."


@dataclass(frozen=True)
class Credential:
    member_id: uuid.UUID | None
    password_hash: str | None
    locked: bool


async def credential_for(
    session: AsyncSession, settings: Settings, login: str, address: str | None, now: datetime
) -> Credential:
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("login:" + login.lower())))
    )
    since = now - timedelta(seconds=settings.login_window)
    login_key = login.lower()
    same_login = LoginAttempt.login == login_key
    same_address = LoginAttempt.address.is_not_distinct_from(address)
    # One statement for all three counts: the failures of this login, of this login from this
    # address, and of this address (the last only when the address is known).
    counts = (
        await session.execute(
            select(
                func.count().filter(same_login),
                func.count().filter(same_login, same_address),
                func.count().filter(same_address, LoginAttempt.address.is_not(None)),
            ).where(
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.attempted_at > since,
                or_(same_login, same_address),
            )
        )
    ).one()
    for_login, for_login_here, from_address = (int(count) for count in counts)
    locked = (
        for_login_here >= settings.login_max_failures_per_account
        or for_login >= settings.login_max_failures_per_account_total
        or from_address >= settings.login_max_failures_per_address
    )
    row = (
        await session.execute(
            select(Member.id, MemberCredential.password_hash)
            .outerjoin(MemberCredential, MemberCredential.member_id == Member.id)
            .where(Member.login == login)
        )
    ).first()
    if row is None:
        return Credential(None, None, locked)
    return Credential(row[0], row[1], locked)


async def record_attempt(
    session: AsyncSession, login: str, address: str | None, succeeded: bool
) -> None:
    session.add(LoginAttempt(login=login.lower()[:100], address=address, succeeded=succeeded))
    await session.flush()


def sign_in(
    portal: Portal,
    settings: Settings,
    *,
    login: str,
    password: str,
    address: str | None,
    provider_id: uuid.UUID,
    now: datetime,
) -> MemberRecord | str:
    """The member, signed in to act for ``provider_id``; or the message to show on the page.

    Synchronous: it runs in the OAuth worker thread, so the argon2 check stays off the event
    loop; its queries go through the portal, in the request's transaction.
    """
    login = login.strip()[:100]
    if not login or not password:
        return WRONG
    credential: Credential = portal.run(credential_for, settings, login, address, now)
    if credential.locked:
        portal.run(record_attempt, login, address, False)
        return LOCKED
    if not verify_secret(settings, credential.password_hash, password):
        portal.run(record_attempt, login, address, False)
        return WRONG
    portal.run(record_attempt, login, address, True)
    assert credential.member_id is not None
    member: MemberRecord | None = portal.run(
        store.member_of_provider, credential.member_id, provider_id, now
    )
    return NO_ROLE if member is None else member


async def _unused_invitation(session: AsyncSession, token: str, now: datetime) -> Invitation | None:
    """The unused, unexpired invitation ``token`` opens, locked for use."""
    invitation: Invitation | None = await session.scalar(
        select(Invitation)
        .where(
            Invitation.token_hash == token_digest(token),
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .with_for_update()
    )
    return invitation


async def open_invitation(session: AsyncSession, token: str, now: datetime) -> Member | None:
    """The member an unused, unexpired invitation is for, the invitation locked for use."""
    invitation = await _unused_invitation(session, token, now)
    if invitation is None:
        return None
    return await session.get(Member, invitation.member_id)


async def accept_invitation(
    session: AsyncSession, token: str, password_hash: str | None, now: datetime
) -> Member | None:
    """Use the invitation up and make the grant it offers; None if it is not valid (anymore).

    ``password_hash`` is the new member's chosen password; None for a member who already has
    one (and proved it), whose password an invitation never replaces.
    """
    invitation = await _unused_invitation(session, token, now)
    if invitation is None:
        return None
    member = await session.get(Member, invitation.member_id)
    if member is None:
        return None
    invitation.used_at = now
    if password_hash is not None:
        credential = await session.get(MemberCredential, member.id)
        if credential is None:
            session.add(MemberCredential(member_id=member.id, password_hash=password_hash))
        else:
            credential.password_hash = password_hash
            credential.updated_at = now
    await _make_offered_grant(session, invitation)
    await session.flush()
    return member


async def _make_offered_grant(session: AsyncSession, invitation: Invitation) -> None:
    """The grant the invitation offered, unless the member holds that very role already.
    Invitations from before offers carry none: their grant was made when they were sent."""
    if invitation.provider_id is None or invitation.role is None:
        return
    assert invitation.jurisdiction is not None and invitation.grant_id is not None
    held = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.member_id == invitation.member_id,
            RoleGrant.provider_id == invitation.provider_id,
            RoleGrant.role == invitation.role,
            RoleGrant.jurisdiction == invitation.jurisdiction,
            RoleGrant.revoked_at.is_(None),
        )
    )
    if held is not None:
        return
    session.add(
        RoleGrant(
            id=invitation.grant_id,
            member_id=invitation.member_id,
            provider_id=invitation.provider_id,
            role=invitation.role,
            jurisdiction=invitation.jurisdiction,
            granted_by_member_id=invitation.invited_by_member_id,
        )
    )


async def password_hash_of(session: AsyncSession, member_id: uuid.UUID) -> str | None:
    credential = await session.get(MemberCredential, member_id)
    return None if credential is None else credential.password_hash
