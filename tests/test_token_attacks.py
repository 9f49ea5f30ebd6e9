"""Access tokens an attacker might present: each is refused with UNAUTHENTICATED."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.auth.keys import create_signing_key, retire_signing_key
from hub.auth.tokens import peek
from hub.db.engine import session_factory
from hub.secrets import key_encryption_key
from hub.settings import Settings
from hub.vocabulary import Role
from tests.auth import Tokens, add_client, forge
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

VIEWER = "{ viewer { login clientId } }"


async def refused(gql: GraphQLClient, token: str) -> None:
    response = await gql(VIEWER, token=token)
    assert response.codes == ["UNAUTHENTICATED"], response
    assert response.data is None or response.data.get("viewer") is None


@pytest.fixture
async def claims(tokens: Tokens, settings: Settings, world: World) -> dict[str, Any]:
    """The claims of a valid token of the test world's officer."""
    token = await tokens.member("officer")
    return dict(jwt.decode(token, (await tokens.app.state.keyring.current()).verifying).claims)


async def test_the_genuine_token_works(gql: GraphQLClient, tokens: Tokens) -> None:
    viewer = (await gql(VIEWER, token=await tokens.member("officer"))).ok()["viewer"]
    assert viewer["login"] == "officer"


async def test_alg_none_is_refused(gql: GraphQLClient, claims: dict[str, Any]) -> None:
    await refused(gql, forge({"alg": "none", "typ": "at+jwt"}, claims))


async def test_hs256_signed_with_the_public_key_is_refused(
    gql: GraphQLClient, http: Any, claims: dict[str, Any]
) -> None:
    jwks = (await http.get("/.well-known/jwks.json")).json()["keys"][0]
    public_pem = ECKey.import_key(jwks).as_pem(private=False)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": jwks["kid"]}
    await refused(gql, forge(header, claims, public_pem))
    await refused(gql, forge(header, claims, jwks["x"].encode()))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "https://some-other-service.example.org"),
        ("iss", "https://impostor.example.org"),
        ("exp", 1_000_000_000),
        ("nbf", 4_000_000_000),
        ("client_id", "no-such-client"),
    ],
)
async def test_a_wrong_claim_is_refused(
    gql: GraphQLClient, tokens: Tokens, claims: dict[str, Any], claim: str, value: Any
) -> None:
    key = await tokens.signing_key()
    forged = {**claims, claim: value}
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, forged, key)
    await refused(gql, token)


@pytest.mark.parametrize("typ", ["JWT", "id_token+jwt", None])
async def test_a_wrong_typ_is_refused(
    gql: GraphQLClient, tokens: Tokens, claims: dict[str, Any], typ: str | None
) -> None:
    key = await tokens.signing_key()
    header: dict[str, Any] = {"alg": "ES256", "kid": key.kid}
    if typ:
        header["typ"] = typ
    await refused(gql, jwt.encode(header, claims, key, default_type=None))


async def test_an_expired_token_is_refused(
    gql: GraphQLClient, tokens: Tokens, world: World
) -> None:
    stale = await tokens.member("officer", now=int(time.time()) - 3600, lifetime=600)
    await refused(gql, stale)
    fresh = await tokens.member("officer", now=int(time.time()) - 60, lifetime=600)
    assert (await gql(VIEWER, token=fresh)).ok()


@pytest.mark.parametrize("make_key", [lambda: ECKey.generate_key("P-256", auto_kid=True)])
async def test_a_token_signed_by_an_unknown_key_is_refused(
    gql: GraphQLClient, tokens: Tokens, claims: dict[str, Any], make_key: Callable[[], ECKey]
) -> None:
    stranger = make_key()
    await refused(
        gql, jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": stranger.kid}, claims, stranger)
    )
    # The same key id as the hub's key, but another key: the signature does not verify.
    own_kid = (await tokens.signing_key()).kid
    await refused(
        gql, jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": own_kid}, claims, stranger)
    )
    rsa = RSAKey.generate_key(2048, auto_kid=True)
    await refused(gql, jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": rsa.kid}, claims, rsa))


async def test_garbage_and_other_schemes_are_refused(gql: GraphQLClient) -> None:
    await refused(gql, "not-a-token")
    response = await gql(VIEWER, headers={"Authorization": "Basic b2ZmaWNlcjpwYXNz"})
    assert response.codes == ["UNAUTHENTICATED"]


async def test_no_token_is_unauthenticated(gql: GraphQLClient) -> None:
    assert (await gql(VIEWER)).codes == ["UNAUTHENTICATED"]


async def test_a_revoked_client_is_refused(
    gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    token = await tokens.member("officer")
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE oauth_clients SET revoked_at = now()"))
    await refused(gql, token)


async def test_a_revoked_role_stops_working_on_the_next_request(
    gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    token = await tokens.member("officer")
    assert (await gql(VIEWER, token=token)).ok()
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE role_grants SET revoked_at = now() WHERE member_id = :m"),
            {"m": world.members["officer"]},
        )
    await refused(gql, token)


async def test_a_suspended_provider_stops_working_on_the_next_request(
    gql: GraphQLClient, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    token = await tokens.member("ngo")
    assert (await gql(VIEWER, token=token)).ok()
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE providers SET status = 'suspended' WHERE id = :p"),
            {"p": world.providers["ngo"]},
        )
    await refused(gql, token)


async def test_a_member_token_needs_its_authorization(
    gql: GraphQLClient, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("officer")
    client_id = peek(token).claims["client_id"]
    # Signed by the hub, but naming no token family: not something the hub ever issues.
    await refused(gql, await tokens.sign(client_id=client_id, member_id=world.members["officer"]))


async def test_rotating_keys_keeps_old_tokens_working_until_retired(
    gql: GraphQLClient, tokens: Tokens, app: Starlette, settings: Settings
) -> None:
    old_token = await tokens.member("officer")
    old_kid = (await tokens.signing_key()).kid
    sessions = session_factory(app.state.engine)
    async with sessions.begin() as session:
        new_kid = await create_signing_key(session, key_encryption_key(settings))
    app.state.keyring.forget()
    assert (await tokens.signing_key()).kid == new_kid
    new_token = await tokens.member("director")
    assert (await gql(VIEWER, token=old_token)).ok()
    assert (await gql(VIEWER, token=new_token)).ok()
    async with sessions.begin() as session:
        assert not await retire_signing_key(session, new_kid)  # the signing key stays
        assert await retire_signing_key(session, old_kid)
    app.state.keyring.forget()
    await refused(gql, old_token)
    assert (await gql(VIEWER, token=new_token)).ok()


async def test_an_external_identity_providers_tokens_are_accepted(
    gql: GraphQLClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    external_jwks: dict[str, dict[str, Any]],
) -> None:
    issuer, jwks_uri = (
        "https://idp.jiangxi.example.gov.cn",
        "https://idp.jiangxi.example.gov.cn/jwks",
    )
    province_key = RSAKey.generate_key(2048, auto_kid=True)
    external_jwks[jwks_uri] = {"keys": [province_key.as_dict(private=False)]}
    await add_client(
        engine,
        settings,
        world.providers["gan_bureau"],
        scopes=("register:read", "providers:read"),
        grants=[(Role.GOVERNMENT_OFFICER, COUNTY)],
        external=(issuer, jwks_uri, None),
    )
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": "officer-42",
        "aud": settings.audience,
        "exp": now + 300,
        "iat": now,
        "scope": "register:read register:write",
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": province_key.kid}
    token = jwt.encode(header, claims, province_key)
    response = (await gql("{ viewer { login clientId grants { role } } }", token=token)).ok()
    assert response["viewer"]["login"] == f"{issuer} officer-42"
    # Its own key, another issuer's name: refused; HMAC with its public key: refused.
    await refused(
        gql, jwt.encode(header, {**claims, "iss": "https://elsewhere.example"}, province_key)
    )
    await refused(gql, jwt.encode(header, {**claims, "aud": "https://other"}, province_key))
    pem = province_key.as_pem(private=False)
    await refused(
        gql, forge({"alg": "HS256", "typ": "at+jwt", "kid": province_key.kid}, claims, pem)
    )


async def test_the_development_header_is_refused_outside_dev(
    engine: AsyncEngine, settings: Settings, world: World
) -> None:
    import dataclasses

    import httpx
    from asgi_lifespan import LifespanManager

    from hub.app import create_app

    for env, expected in (("prod", "UNAUTHENTICATED"), ("dev", None)):
        app = create_app(dataclasses.replace(settings, env=env), engine=engine)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            response = await http.post(
                "/graphql", json={"query": VIEWER}, headers={"X-Hub-Dev-Member": "officer"}
            )
        body = response.json()
        codes = [e["extensions"]["code"] for e in body.get("errors") or []]
        if expected:
            assert codes == [expected] and "HUB_ENV=dev" in body["errors"][0]["message"]
        else:
            assert body["data"]["viewer"]["login"] == "officer"
