"""Acting as a member by naming them in a header: for development only.

With HUB_ENV=dev, ``X-Hub-Dev-Member: <login>`` (and ``X-Hub-Dev-Provider: <provider id>`` when
the member works for several providers) makes the request act as that member, with the roles
the database holds for them right now. In any other environment the headers are refused, so a
production hub never trusts them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.principal import Principal
from hub.auth.principals import member_principal
from hub.settings import Settings

MEMBER_HEADER = "x-hub-dev-member"
PROVIDER_HEADER = "x-hub-dev-provider"

NO_CREDENTIALS = "sign in to use the hub"
DEV_OFF = "development identities (X-Hub-Dev-Member) are accepted only when HUB_ENV=dev"
UNKNOWN_MEMBER = "no member with that login holds a live role in an active provider"


async def dev_principal(
    headers: Mapping[str, str],
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[Principal | None, str]:
    """The principal the headers name, or None with the reason to give the client."""
    login = headers.get(MEMBER_HEADER)
    if not login:
        return None, NO_CREDENTIALS
    if not settings.is_dev:
        return None, DEV_OFF
    provider_id = None
    raw_provider = headers.get(PROVIDER_HEADER)
    if raw_provider:
        try:
            provider_id = uuid.UUID(raw_provider)
        except ValueError:
            return None, f"{PROVIDER_HEADER} must be a provider's UUID"
    async with sessions() as session:
        principal = await member_principal(session, login.strip(), provider_id)
    if principal is None:
        return None, UNKNOWN_MEMBER
    return principal, ""
