"""Tokens for tests: clients registered straight into the database, and access tokens signed
with the hub's own key, as the token endpoint would sign them.

Tests of the OAuth endpoints themselves go through HTTP; everything else uses these shortcuts,
so that a permission test does not pay for a password hash per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.auth.passwords import hash_secret
from hub.auth.policy import ALL_SCOPES
from hub.auth.tokens import issue_access_token
from hub.db.models import OAuthClient, RoleGrant, TokenFamily
from hub.settings import Settings
from hub.vocabulary import Role
from tests.world import COUNTY, MEMBERS, World

REDIRECT_URI = "https://app.example.org/callback"
CLIENT_SECRET = "s3cret-for-tests-0123456789"


async def add_client(
    engine: AsyncEngine,
    settings: Settings,
    provider_id: uuid.UUID,
    *,
    scopes: Iterable[str] = ALL_SCOPES,
    grants: Iterable[tuple[Role, str]] = (),
    grant_types: Iterable[str] = ("client_credentials",),
    auth_method: str = "client_secret_basic",
    secret: str | None = None,
    jwks: dict[str, Any] | None = None,
    redirect_uris: Iterable[str] = (),
    external: tuple[str, str, str | None] | None = None,
) -> tuple[uuid.UUID, str]:
    """A client of ``provider_id`` (its primary key and client_id), with role grants."""
    pk, client_id = uuid.uuid4(), f"test-{secrets.token_hex(6)}"
    async with engine.begin() as connection:
        await connection.execute(
            insert(OAuthClient).values(
                id=pk,
                client_id=client_id,
                name=f"client {client_id}",
                provider_id=provider_id,
                token_endpoint_auth_method="external" if external else auth_method,
                secret_hash=hash_secret(settings, secret) if secret else None,
                jwks=jwks,
                grant_types=list(grant_types),
                redirect_uris=list(redirect_uris),
                scopes=list(scopes),
                external_issuer=external[0] if external else None,
                external_jwks_uri=external[1] if external else None,
                external_audience=external[2] if external else None,
            )
        )
        for role, jurisdiction in grants:
            await connection.execute(
                insert(RoleGrant).values(
                    oauth_client_id=pk,
                    provider_id=provider_id,
                    role=role,
                    jurisdiction=jurisdiction,
                )
            )
    return pk, client_id


class Tokens:
    """Access tokens for the test world's members and clients, signed by the app's key."""

    def __init__(self, app: Starlette, engine: AsyncEngine, world: World, settings: Settings):
        self.app = app
        self.engine = engine
        self.world = world
        self.settings = settings
        self._clients: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}

    async def signing_key(self) -> ECKey:
        keys = await self.app.state.keyring.current()
        signing: ECKey = keys.signing
        return signing

    async def app_client(
        self, provider_id: uuid.UUID, scopes: Iterable[str] = ALL_SCOPES
    ) -> tuple[uuid.UUID, str]:
        """An authorization-code client of the provider (one per provider unless scoped)."""
        scopes = tuple(scopes)
        if scopes == ALL_SCOPES and provider_id in self._clients:
            return self._clients[provider_id]
        made = await add_client(
            self.engine,
            self.settings,
            provider_id,
            scopes=scopes,
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris=(REDIRECT_URI,),
            secret="app-secret-0123456789",
        )
        if scopes == ALL_SCOPES:
            self._clients[provider_id] = made
        return made

    def client_id_for(self, login: str) -> str:
        return self._clients[self.world.providers[MEMBERS[login][0]]][1]

    async def member(self, login: str, *, scopes: Iterable[str] = ALL_SCOPES, **claims: Any) -> str:
        """A token for a member of the test world, through an app of their provider."""
        provider_id = self.world.providers[MEMBERS[login][0]]
        return await self.for_member(
            provider_id, self.world.members[login], scopes=scopes, **claims
        )

    async def for_member(
        self,
        provider_id: uuid.UUID,
        member_id: uuid.UUID,
        *,
        scopes: Iterable[str] = ALL_SCOPES,
        **claims: Any,
    ) -> str:
        """A token for any member acting for ``provider_id`` (where it holds a role), through
        an app of that provider."""
        pk, client_id = await self.app_client(provider_id, scopes)
        family_id = uuid.uuid4()
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(TokenFamily).values(
                    id=family_id,
                    client_id=pk,
                    member_id=member_id,
                    scope=" ".join(scopes),
                    auth_time=datetime.now(UTC),
                )
            )
        return await self.sign(
            client_id=client_id,
            scopes=scopes,
            member_id=member_id,
            family_id=family_id,
            **claims,
        )

    async def sign(
        self,
        *,
        client_id: str,
        scopes: Iterable[str] = ALL_SCOPES,
        member_id: uuid.UUID | None = None,
        family_id: uuid.UUID | None = None,
        lifetime: int | None = None,
        now: int | None = None,
    ) -> str:
        return issue_access_token(
            await self.signing_key(),
            issuer=self.settings.public_url,
            audience=self.settings.audience,
            client_id=client_id,
            scopes=tuple(scopes),
            now=int(time.time()) if now is None else now,
            lifetime=self.settings.access_token_ttl if lifetime is None else lifetime,
            member_id=member_id,
            family_id=family_id,
        )


async def officer_client(
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    *,
    scopes: Iterable[str] = ("register:read",),
) -> str:
    """A machine client of the Ganzhou bureau acting as a government officer of the test county,
    authenticating with ``CLIENT_SECRET``: its client_id."""
    _, client_id = await add_client(
        engine,
        settings,
        world.providers["gan_bureau"],
        scopes=scopes,
        grants=[(Role.GOVERNMENT_OFFICER, COUNTY)],
        secret=CLIENT_SECRET,
    )
    return client_id


async def keyed_officer_client(
    engine: AsyncEngine, settings: Settings, world: World
) -> tuple[str, ECKey]:
    """The same, authenticating with ``private_key_jwt``: its client_id and private key."""
    key = ECKey.generate_key("P-256", auto_kid=True)
    _, client_id = await add_client(
        engine,
        settings,
        world.providers["gan_bureau"],
        scopes=("register:read",),
        grants=[(Role.GOVERNMENT_OFFICER, COUNTY)],
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    return client_id, key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A JWT made by hand, as an attacker would: unsigned (``alg`` none) or HMAC-signed with
    any bytes, such as a public key the hub publishes. joserfc itself refuses to make these."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if hmac_key is None:
        return signing_input + "."
    digest = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"
