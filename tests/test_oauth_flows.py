"""The authorization server over HTTP, as a government system or an NGO app would use it."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.passwords import hash_secret
from hub.db.models import AuthorizationCode, MemberCredential
from hub.settings import Settings
from tests.auth import (
    CLIENT_SECRET,
    REDIRECT_URI,
    Tokens,
    add_client,
    forge,
    keyed_officer_client,
    officer_client,
)
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

PASSWORD = "correct horse battery staple"
SECRET = CLIENT_SECRET
VIEWER = "{ viewer { login clientId grants { role jurisdiction } } }"


async def set_password(engine: AsyncEngine, settings: Settings, member_id: Any) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(MemberCredential).values(
                member_id=member_id, password_hash=hash_secret(settings, PASSWORD)
            )
        )


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


class App:
    """An NGO app registered at the hub, acting for the NGO's members."""

    def __init__(self, http: httpx.AsyncClient, client_id: str) -> None:
        self.http = http
        self.client_id = client_id

    def params(self, challenge: str | None, **extra: str) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "register:read providers:read",
            "state": "state-123",
        }
        if challenge is not None:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        params.update(extra)
        return params

    async def sign_in(
        self, params: dict[str, str], login: str = "ngo", password: str = PASSWORD
    ) -> httpx.Response:
        return await self.http.post(
            "/oauth/authorize",
            data={**params, "login": login, "password": password, "decision": "allow"},
        )

    async def code(self, verifier_challenge: tuple[str, str] | None = None) -> tuple[str, str]:
        verifier, challenge = verifier_challenge or pkce()
        page = await self.http.get("/oauth/authorize", params=self.params(challenge))
        assert page.status_code == 200, page.text
        response = await self.sign_in(self.params(challenge))
        assert response.status_code == 302, response.text
        location = query_of(response.headers["location"])
        assert location["state"] == "state-123"
        return location["code"], verifier

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post("/oauth/token", data=form, auth=(self.client_id, SECRET))

    async def exchange(self, code: str, verifier: str) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier,
        )


@pytest.fixture
async def ngo_app(
    http: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, world: World
) -> App:
    await set_password(engine, settings, world.members["ngo"])
    _, client_id = await add_client(
        engine,
        settings,
        world.providers["ngo"],
        scopes=("register:read", "providers:read", "register:read_case"),
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT_URI,),
        secret=SECRET,
    )
    return App(http, client_id)


@pytest.fixture
async def machine(engine: AsyncEngine, settings: Settings, world: World) -> str:
    return await officer_client(engine, settings, world, scopes=("register:read", "providers:read"))


# --- discovery --------------------------------------------------------------------------------


async def test_metadata_is_valid_rfc_8414(http: httpx.AsyncClient, settings: Settings) -> None:
    response = await http.get("/.well-known/oauth-authorization-server")
    metadata = AuthorizationServerMetadata(response.json())
    metadata.validate()
    assert metadata["issuer"] == settings.public_url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "none" not in metadata["token_endpoint_auth_methods_supported"]


async def test_jwks_publishes_public_keys_only(http: httpx.AsyncClient) -> None:
    keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
    assert keys and all(key["kty"] == "EC" and "d" not in key and key["kid"] for key in keys)


# --- client_credentials -----------------------------------------------------------------------


async def test_client_credentials_token_acts_for_the_client(
    http: httpx.AsyncClient, gql: GraphQLClient, machine: str
) -> None:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(machine, SECRET)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["cache-control"] == "no-store"
    assert body["token_type"] == "Bearer" and "refresh_token" not in body
    assert body["expires_in"] <= 3600
    assert set(body["scope"].split()) == {"register:read", "providers:read"}
    viewer = (await gql(VIEWER, token=body["access_token"])).ok()["viewer"]
    assert viewer["clientId"] == machine
    assert viewer["grants"] == [{"role": "GOVERNMENT_OFFICER", "jurisdiction": COUNTY}]


async def test_wrong_secret_is_refused(http: httpx.AsyncClient, machine: str) -> None:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(machine, "wrong")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a_scope_beyond_the_registration_is_refused(
    http: httpx.AsyncClient, machine: str
) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "register:read_identity"},
        auth=(machine, SECRET),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_a_narrowed_token_carries_only_its_scope(
    http: httpx.AsyncClient, gql: GraphQLClient, machine: str
) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "providers:read"},
        auth=(machine, SECRET),
    )
    token = response.json()["access_token"]
    refused = await gql("{ children(first: 1) { edges { node { id } } } }", token=token)
    assert refused.ok()["children"]["edges"] == []  # no register:read: nothing is in reach
    assert (await gql("{ providers(first: 1) { edges { node { name } } } }", token=token)).ok()


async def test_a_revoked_client_gets_no_token_and_its_tokens_stop(
    http: httpx.AsyncClient, gql: GraphQLClient, machine: str, engine: AsyncEngine
) -> None:
    form = {"grant_type": "client_credentials"}
    token = (await http.post("/oauth/token", data=form, auth=(machine, SECRET))).json()
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE oauth_clients SET revoked_at = now() WHERE client_id = :c"),
            {"c": machine},
        )
    assert (await gql(VIEWER, token=token["access_token"])).codes == ["UNAUTHENTICATED"]
    again = await http.post("/oauth/token", data=form, auth=(machine, SECRET))
    assert again.status_code == 401


# --- private_key_jwt --------------------------------------------------------------------------


@pytest.fixture
async def keyed_client(engine: AsyncEngine, settings: Settings, world: World) -> tuple[str, ECKey]:
    return await keyed_officer_client(engine, settings, world)


def assertion(
    client_id: str, key: Any, settings: Settings, alg: str = "ES256", **claims: Any
) -> str:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{settings.public_url}/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_hex(8),
        **claims,
    }
    return jwt.encode({"alg": alg}, body, key, algorithms=[alg])


async def post_assertion(http: httpx.AsyncClient, signed: str) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        },
    )


async def test_private_key_jwt_authenticates_once_per_jti(
    http: httpx.AsyncClient, keyed_client: tuple[str, ECKey], settings: Settings
) -> None:
    client_id, key = keyed_client
    signed = assertion(client_id, key, settings)
    first = await post_assertion(http, signed)
    assert first.status_code == 200, first.text
    replay = await post_assertion(http, signed)
    assert replay.status_code in (400, 401)
    assert replay.json()["error"] == "invalid_client"


async def test_private_key_jwt_refuses_symmetric_and_long_lived_assertions(
    http: httpx.AsyncClient, keyed_client: tuple[str, ECKey], settings: Settings
) -> None:
    client_id, key = keyed_client
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{settings.public_url}/oauth/token"}
    claims |= {"iat": now, "exp": now + 60, "jti": secrets.token_hex(8)}
    hs256 = forge({"alg": "HS256"}, claims, key.as_pem(private=False))
    assert (await post_assertion(http, hs256)).json()["error"] == "invalid_client"
    stranger = assertion(client_id, ECKey.generate_key("P-256"), settings)
    assert (await post_assertion(http, stranger)).json()["error"] == "invalid_client"
    too_long = assertion(client_id, key, settings, exp=int(time.time()) + 86400)
    assert (await post_assertion(http, too_long)).json()["error"] == "invalid_client"


# --- authorization_code with PKCE -------------------------------------------------------------


async def test_an_app_acts_for_a_member_after_sign_in(
    ngo_app: App, gql: GraphQLClient, settings: Settings
) -> None:
    code, verifier = await ngo_app.code()
    response = await ngo_app.exchange(code, verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["refresh_token"]
    assert tokens["expires_in"] == settings.access_token_ttl
    viewer = (await gql(VIEWER, token=tokens["access_token"])).ok()["viewer"]
    assert viewer["login"] == "ngo"
    assert viewer["clientId"] == ngo_app.client_id


async def test_the_sign_in_page_is_not_framed_or_cached(ngo_app: App) -> None:
    _, challenge = pkce()
    page = await ngo_app.http.get("/oauth/authorize", params=ngo_app.params(challenge))
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "register:read" in page.text


async def test_a_reused_code_is_refused_and_revokes_what_it_issued(
    ngo_app: App, gql: GraphQLClient
) -> None:
    code, verifier = await ngo_app.code()
    tokens = (await ngo_app.exchange(code, verifier)).json()
    assert (await gql(VIEWER, token=tokens["access_token"])).ok()
    again = await ngo_app.exchange(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert (await gql(VIEWER, token=tokens["access_token"])).codes == ["UNAUTHENTICATED"]
    refreshed = await ngo_app.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_grant"


async def test_a_code_lives_at_most_its_lifetime(ngo_app: App, engine: AsyncEngine) -> None:
    code, verifier = await ngo_app.code()
    async with engine.begin() as connection:
        await connection.execute(
            update(AuthorizationCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await ngo_app.exchange(code, verifier)).json()["error"] == "invalid_grant"


async def test_codes_live_sixty_seconds_at_most(settings: Settings) -> None:
    assert settings.authorization_code_ttl <= 60
    with pytest.raises(ValueError):
        Settings.from_env({"HUB_AUTHORIZATION_CODE_TTL": "600"})


async def test_a_wrong_verifier_is_refused(ngo_app: App) -> None:
    code, _ = await ngo_app.code()
    response = await ngo_app.exchange(code, pkce()[0])
    assert response.json()["error"] == "invalid_grant"


async def test_pkce_plain_is_refused(ngo_app: App) -> None:
    verifier = secrets.token_urlsafe(48)
    params = ngo_app.params(None, code_challenge=verifier, code_challenge_method="plain")
    response = await ngo_app.http.get("/oauth/authorize", params=params)
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    assert (await ngo_app.sign_in(params)).status_code == 302
    assert "code" not in query_of((await ngo_app.sign_in(params)).headers["location"])


async def test_pkce_missing_is_refused(ngo_app: App) -> None:
    response = await ngo_app.http.get("/oauth/authorize", params=ngo_app.params(None))
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    signed_in = await ngo_app.sign_in(ngo_app.params(None))
    assert "code" not in query_of(signed_in.headers["location"])


async def test_a_token_request_without_verifier_is_refused(ngo_app: App) -> None:
    code, _ = await ngo_app.code()
    response = await ngo_app.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.org/callback",
        "https://app.example.org@evil.example.org/callback",
        "https://user:pass@app.example.org/callback",
        "https://app.example.org/callback#fragment",
        "https://app.example.org/callback/../other",
    ],
)
async def test_an_unregistered_redirect_uri_is_never_followed(
    ngo_app: App, redirect_uri: str
) -> None:
    _, challenge = pkce()
    params = ngo_app.params(challenge, redirect_uri=redirect_uri)
    page = await ngo_app.http.get("/oauth/authorize", params=params)
    assert page.status_code == 400
    assert "location" not in page.headers
    posted = await ngo_app.sign_in(params)
    assert posted.status_code == 400 and "location" not in posted.headers


async def test_a_missing_redirect_uri_is_refused(ngo_app: App) -> None:
    _, challenge = pkce()
    params = ngo_app.params(challenge)
    del params["redirect_uri"]
    assert (await ngo_app.http.get("/oauth/authorize", params=params)).status_code == 400


async def test_a_member_without_a_role_at_the_apps_provider_cannot_sign_in(
    ngo_app: App, engine: AsyncEngine, settings: Settings, world: World
) -> None:
    await set_password(engine, settings, world.members["officer"])
    _, challenge = pkce()
    response = await ngo_app.sign_in(ngo_app.params(challenge), login="officer")
    assert response.status_code == 401 and "location" not in response.headers


async def test_denying_returns_access_denied(ngo_app: App) -> None:
    _, challenge = pkce()
    response = await ngo_app.http.post(
        "/oauth/authorize", data={**ngo_app.params(challenge), "decision": "deny"}
    )
    assert query_of(response.headers["location"])["error"] == "access_denied"


async def test_failed_sign_ins_are_limited_per_account(ngo_app: App, settings: Settings) -> None:
    _, challenge = pkce()
    params = ngo_app.params(challenge)
    for _ in range(settings.login_max_failures_per_account):
        assert (await ngo_app.sign_in(params, password="wrong password!")).status_code == 401
    locked = await ngo_app.sign_in(params)
    assert locked.status_code == 429  # even the right password waits now


async def test_a_guesser_elsewhere_does_not_lock_the_member_out(
    ngo_app: App, settings: Settings, engine: AsyncEngine
) -> None:
    _, challenge = pkce()
    params = ngo_app.params(challenge)
    await failed_sign_ins(engine, "ngo", "203.0.113.7", settings.login_max_failures_per_account)
    # The member signs in from their own address: redirected back to the app with a code.
    response = await ngo_app.sign_in(params)
    assert response.status_code == 302 and "code" in query_of(response.headers["location"])


async def test_failed_sign_ins_from_many_addresses_lock_the_account(
    ngo_app: App, settings: Settings, engine: AsyncEngine
) -> None:
    _, challenge = pkce()
    params = ngo_app.params(challenge)
    total = settings.login_max_failures_per_account_total
    per_address = settings.login_max_failures_per_account - 1  # none reaches the per-address lock
    for n in range(0, total, per_address):
        await failed_sign_ins(engine, "ngo", f"198.51.100.{n}", min(per_address, total - n))
    assert (await ngo_app.sign_in(params)).status_code == 429


async def failed_sign_ins(engine: AsyncEngine, login: str, address: str, n: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO login_attempts (login, address, succeeded)"
                " SELECT :login, :address, false FROM generate_series(1, :n)"
            ),
            {"login": login, "address": address, "n": n},
        )


async def test_failed_sign_ins_are_limited_per_address(
    ngo_app: App, settings: Settings, engine: AsyncEngine
) -> None:
    _, challenge = pkce()
    params = ngo_app.params(challenge)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO login_attempts (login, address, succeeded)"
                " SELECT 'someone' || n, '127.0.0.1', false FROM generate_series(1, :n) AS n"
            ),
            {"n": settings.login_max_failures_per_address},
        )
    assert (await ngo_app.sign_in(params)).status_code == 429


# --- refresh tokens ---------------------------------------------------------------------------


async def test_refresh_tokens_rotate_and_a_reused_one_kills_the_family(
    ngo_app: App, gql: GraphQLClient
) -> None:
    code, verifier = await ngo_app.code()
    first = (await ngo_app.exchange(code, verifier)).json()
    second = (
        await ngo_app.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await gql(VIEWER, token=second["access_token"])).ok()
    reused = await ngo_app.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.json()["error"] == "invalid_grant"
    # The whole family is dead: the newest refresh token and every access token.
    newest = await ngo_app.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert newest.json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        assert (await gql(VIEWER, token=token)).codes == ["UNAUTHENTICATED"]


async def test_a_refresh_cannot_widen_the_scope(ngo_app: App) -> None:
    code, verifier = await ngo_app.code()
    tokens = (await ngo_app.exchange(code, verifier)).json()
    wider = await ngo_app.token(
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="register:read register:read_case",
    )
    assert wider.json()["error"] == "invalid_scope"


# --- revocation and introspection -------------------------------------------------------------


async def test_revoking_a_refresh_token_revokes_its_access_tokens(
    ngo_app: App, gql: GraphQLClient
) -> None:
    code, verifier = await ngo_app.code()
    tokens = (await ngo_app.exchange(code, verifier)).json()
    response = await ngo_app.http.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(ngo_app.client_id, SECRET),
    )
    assert response.status_code == 200
    assert (await gql(VIEWER, token=tokens["access_token"])).codes == ["UNAUTHENTICATED"]


async def test_revoking_an_access_token_stops_it(
    http: httpx.AsyncClient, gql: GraphQLClient, machine: str
) -> None:
    token = (
        await http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(machine, SECRET)
        )
    ).json()["access_token"]
    revoked = await http.post("/oauth/revoke", data={"token": token}, auth=(machine, SECRET))
    assert revoked.status_code == 200
    assert (await gql(VIEWER, token=token)).codes == ["UNAUTHENTICATED"]


async def test_introspection_tells_a_client_about_its_own_tokens_only(
    ngo_app: App, http: httpx.AsyncClient, machine: str
) -> None:
    code, verifier = await ngo_app.code()
    tokens = (await ngo_app.exchange(code, verifier)).json()
    own = await http.post(
        "/oauth/introspect",
        data={"token": tokens["access_token"]},
        auth=(ngo_app.client_id, SECRET),
    )
    body = own.json()
    assert body["active"] is True and body["client_id"] == ngo_app.client_id
    foreign = await http.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, auth=(machine, SECRET)
    )
    assert foreign.json() == {"active": False}
    refresh = await http.post(
        "/oauth/introspect",
        data={"token": tokens["refresh_token"]},
        auth=(ngo_app.client_id, SECRET),
    )
    assert refresh.json()["active"] is True
    garbage = await http.post(
        "/oauth/introspect", data={"token": "nonsense"}, auth=(ngo_app.client_id, SECRET)
    )
    assert garbage.json() == {"active": False}


async def test_token_endpoint_takes_forms_only(http: httpx.AsyncClient, machine: str) -> None:
    response = await http.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, auth=(machine, SECRET)
    )
    assert response.status_code == 400


# --- invitations ------------------------------------------------------------------------------


INVITE = """
mutation($input: InviteMemberInput!) {
  inviteMember(input: $input) { member { login } grant { role jurisdiction } invitationUrl }
}
"""


async def test_an_invited_member_sets_a_password_and_signs_in(
    gql: GraphQLClient, http: httpx.AsyncClient, ngo_app: App, world: World, tokens: Tokens
) -> None:
    from strawberry.relay import GlobalID

    invited = await gql(
        INVITE,
        {
            "input": {
                "providerId": str(GlobalID("Provider", str(world.providers["ngo"]))),
                "login": "new.worker",
                "displayName": "New Worker",
                "role": "WORKER",
                "jurisdiction": COUNTY,
            }
        },
        token=await tokens.member("admin"),
    )
    url = invited.ok()["inviteMember"]["invitationUrl"]
    path = urlsplit(url).path + "?" + urlsplit(url).query
    assert (await http.get(path)).status_code == 200
    token = query_of(url)["token"]
    weak = await http.post(
        "/oauth/invitation", data={"token": token, "password": "short", "repeat": "short"}
    )
    assert weak.status_code == 400
    done = await http.post(
        "/oauth/invitation", data={"token": token, "password": PASSWORD, "repeat": PASSWORD}
    )
    assert done.status_code == 200
    again = await http.post(
        "/oauth/invitation", data={"token": token, "password": PASSWORD, "repeat": PASSWORD}
    )
    assert again.status_code == 404  # an invitation works once
    _, challenge = pkce()
    signed_in = await ngo_app.sign_in(ngo_app.params(challenge), login="new.worker")
    assert signed_in.status_code == 302 and "code" in query_of(signed_in.headers["location"])


async def test_pruning_forgets_only_what_is_stale(
    ngo_app: App, engine: AsyncEngine, settings: Settings
) -> None:
    from hub.auth.maintenance import prune
    from hub.db.engine import session_factory

    code, verifier = await ngo_app.code()
    await ngo_app.exchange(code, verifier)
    async with session_factory(engine).begin() as session:
        fresh = await prune(session, settings, datetime.now(UTC))
    assert not any(fresh.values())
    async with session_factory(engine).begin() as session:
        later = await prune(session, settings, datetime.now(UTC) + timedelta(days=60))
    assert later["refresh_tokens"] == 1 and later["token_families"] == 1
    assert later["authorization_codes"] == 1 and later["login_attempts"] == 1


async def test_every_hub_prunes_in_the_background(engine: AsyncEngine, settings: Settings) -> None:
    from dataclasses import replace

    from hub.app import create_app

    await failed_sign_ins(engine, "long.ago", "192.0.2.1", 1)
    await failed_sign_ins(engine, "just.now", "192.0.2.1", 1)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE login_attempts SET attempted_at = now() - interval '3 days'"
                " WHERE login = 'long.ago'"
            )
        )
    pruning = replace(settings, prune_interval_seconds=0.1)
    async with LifespanManager(create_app(pruning, engine=engine)):
        for _ in range(100):
            if await sign_in_logins(engine) == ["just.now"]:
                break
            await asyncio.sleep(0.1)
    assert await sign_in_logins(engine) == ["just.now"]


async def test_one_process_prunes_at_a_time(engine: AsyncEngine, settings: Settings) -> None:
    from hub.auth.maintenance import PRUNE_LOCK, prune_once
    from hub.db.engine import session_factory

    await failed_sign_ins(engine, "long.ago", "192.0.2.1", 1)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE login_attempts SET attempted_at = now() - interval '3 days'")
        )
    async with engine.connect() as other, other.begin():
        # Another process is pruning: this one leaves it to them.
        await other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PRUNE_LOCK})
        assert await prune_once(session_factory(engine), settings) is None
    assert await prune_once(session_factory(engine), settings) == 1
    assert await sign_in_logins(engine) == []


async def sign_in_logins(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT login FROM login_attempts ORDER BY login"))
        return [row[0] for row in rows]
