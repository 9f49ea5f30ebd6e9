"""Forget what no longer matters: replay guards, revocations and codes past their lifetimes,
and rate limits whose spending is paid off.

Each row kept for a token is useful only until that token would have expired; run
``hub prune`` from a scheduler (any process, any time: it only deletes what is stale).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    AuthorizationCode,
    Invitation,
    LoginAttempt,
    RateLimit,
    RefreshToken,
    RevokedAccessToken,
    TokenFamily,
    UsedClientAssertion,
)
from hub.settings import Settings

# Kept a little longer than needed, so an investigation of an incident still finds them.
GRACE = timedelta(days=1)


async def prune(session: AsyncSession, settings: Settings, now: datetime) -> dict[str, int]:
    stale = now - GRACE
    statements = {
        "used_client_assertions": delete(UsedClientAssertion).where(
            UsedClientAssertion.expires_at < stale
        ),
        "revoked_access_tokens": delete(RevokedAccessToken).where(
            RevokedAccessToken.expires_at < stale
        ),
        "login_attempts": delete(LoginAttempt).where(
            LoginAttempt.attempted_at < now - timedelta(seconds=settings.login_window) - GRACE
        ),
        "refresh_tokens": delete(RefreshToken).where(RefreshToken.expires_at < stale),
        # A family with no refresh token left can issue nothing more; its access tokens have
        # expired too, since they live far shorter than a refresh token.
        "token_families": delete(TokenFamily).where(
            TokenFamily.created_at < stale,
            ~select(RefreshToken.id).where(RefreshToken.family_id == TokenFamily.id).exists(),
        ),
        "authorization_codes": delete(AuthorizationCode).where(
            AuthorizationCode.expires_at < stale,
            ~select(TokenFamily.id)
            .where(TokenFamily.authorization_code_id == AuthorizationCode.id)
            .exists(),
        ),
        "invitations": delete(Invitation).where(
            or_(Invitation.expires_at < stale, Invitation.used_at < stale)
        ),
        # A principal whose spending is paid off has its whole budget, as if it had no row.
        "rate_limits": delete(RateLimit).where(RateLimit.paid_off_at < now),
    }
    counts = {}
    for name, statement in statements.items():
        result = await session.execute(statement)
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    return counts
