"""Who a request acts for: the Bearer access token, checked, with roles read live.

The hub's own tokens are checked against its signing keys; a token whose ``iss`` names a
registered external identity provider is checked against that provider's keys instead. The
development header (``X-Hub-Dev-Member``) is honoured only with HUB_ENV=dev, and only when the
request carries no token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.dev import MEMBER_HEADER, dev_principal
from hub.auth.external import ExternalKeys
from hub.auth.keys import KeyRing
from hub.auth.principal import Principal
from hub.auth.principals import external_principal, token_principal
from hub.auth.tokens import (
    ASYMMETRIC_ALGORITHMS,
    TokenRejected,
    peek,
    scopes_of,
    verify_access_token,
    verify_signed,
)
from hub.db.models import OAuthClient, Provider
from hub.settings import Settings
from hub.vocabulary import ProviderStatus

NO_CREDENTIALS = "sign in to use the hub"


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyRing,
        external: ExternalKeys,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.keys = keys
        self.external = external

    async def principal(
        self, headers: Mapping[str, str], *, session: AsyncSession | None = None
    ) -> tuple[Principal | None, str]:
        """The principal the request acts for, or None with the reason to give the client.

        ``session``: read the hub's own principals in it (a caller that reads more in one
        session saves a pool checkout); by default each read has a session of its own."""
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, "the Authorization header must be 'Bearer <access token>'"
            try:
                return await self.from_token(token.strip(), session=session), ""
            except TokenRejected as exc:
                return None, str(exc)
        if headers.get(MEMBER_HEADER):
            return await dev_principal(headers, self.settings, self.sessions)
        return None, NO_CREDENTIALS

    async def from_token(self, token: str, *, session: AsyncSession | None = None) -> Principal:
        unverified = peek(token)
        now = int(time.time())
        if unverified.issuer == self.settings.public_url:
            keys = await self.keys.current(unknown_kid=unverified.kid)
            claims = verify_access_token(
                token,
                keys.verifying,
                issuer=self.settings.public_url,
                audience=self.settings.audience,
                now=now,
                leeway=self.settings.token_leeway,
            )
            if session is not None:
                found = await token_principal(session, claims)
            else:
                async with self.sessions() as own:
                    found = await token_principal(own, claims)
        else:
            found = await self._external(token, unverified.issuer, unverified.kid, now)
        if isinstance(found, str):
            raise TokenRejected(found)
        return found

    async def _external(
        self, token: str, issuer: str | None, kid: str | None, now: int
    ) -> Principal | str:
        if issuer is None:
            raise TokenRejected("the access token names no issuer")
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(OAuthClient, Provider)
                    .join(Provider, Provider.id == OAuthClient.provider_id)
                    .where(
                        OAuthClient.external_issuer == issuer,
                        OAuthClient.revoked_at.is_(None),
                        Provider.status == ProviderStatus.ACTIVE,
                    )
                )
            ).first()
            if row is None:
                raise TokenRejected("the access token's issuer is not trusted by the hub")
            client, provider = row
            assert client.external_jwks_uri is not None
            try:
                key_set = await self.external.keys(client.external_jwks_uri, kid)
            except (httpx.HTTPError, ValueError, JoseError, KeyError) as exc:
                raise TokenRejected("the identity provider's keys could not be fetched") from exc
            claims = verify_signed(
                token,
                key_set,
                issuer=issuer,
                audience=client.external_audience or self.settings.audience,
                algorithms=ASYMMETRIC_ALGORITHMS,
                now=now,
                leeway=self.settings.token_leeway,
                essential=("exp", "sub"),
            )
            return await external_principal(
                session, client, provider, str(claims["sub"]), scopes_of(claims)
            )
