"""Forget what no longer matters: replay guards, revocations and codes past their lifetimes,
and rate limits whose spending is paid off.

Each row kept for a token is useful only until that token would have expired. Every hub process
prunes in the background (``run_pruner``, every HUB_PRUNE_INTERVAL_SECONDS); ``hub prune`` does
the same once, for deployments that turn the background pruning off and schedule it instead.
Any process may prune at any time: it only deletes what is stale.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from hub.periodic import repeat
from hub.settings import Settings

logger = logging.getLogger(__name__)

# Any constant will do, as long as nothing else in the hub takes the same advisory lock.
PRUNE_LOCK = 0x6875_6270  # "hubp"

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


async def prune_once(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> int | None:
    """Prune unless another process is pruning right now (then None): one pruner at a time is
    enough, and two would only wait on each other's row locks."""
    async with sessions.begin() as session:
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(PRUNE_LOCK))):
            return None
        return sum((await prune(session, settings, datetime.now(UTC))).values())


async def run_pruner(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, interval: float
) -> None:
    """Prune every ``interval`` seconds until cancelled; a failed round is logged and retried."""

    async def prune_round() -> None:
        deleted = await prune_once(sessions, settings)
        if deleted:
            logger.info("pruned %d stale rows of tokens, codes and sign-ins", deleted)

    await repeat(prune_round, interval, "pruning stale rows")
