"""Odd requests to the OAuth endpoints: each gets an RFC 6749 error in JSON, never a crash."""

from __future__ import annotations

import base64
import secrets
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.app import create_app
from hub.db.engine import create_engine
from hub.settings import Settings
from tests.auth import CLIENT_SECRET, keyed_officer_client, officer_client
from tests.world import World

SECRET = CLIENT_SECRET
ENDPOINTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]
FORM = {"grant_type": "client_credentials", "token": "not-a-token"}
FORM_TYPE = {"content-type": "application/x-www-form-urlencoded"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
async def machine(engine: AsyncEngine, settings: Settings, world: World) -> str:
    """A client that authenticates with a secret."""
    return await officer_client(engine, settings, world)


@pytest.fixture
async def keyed_client(engine: AsyncEngine, settings: Settings, world: World) -> tuple[str, ECKey]:
    """A client that authenticates with private_key_jwt."""
    return await keyed_officer_client(engine, settings, world)


def assertion(client_id: str, key: ECKey, settings: Settings, **claims: Any) -> str:
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
    return jwt.encode({"alg": "ES256"}, body, key)


def with_assertion(signed: str) -> dict[str, str]:
    return {**FORM, "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}


def oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_an_assertion_naming_a_secret_client_is_an_invalid_client(
    http: httpx.AsyncClient,
    machine: str,
    keyed_client: tuple[str, ECKey],
    settings: Settings,
    endpoint: str,
) -> None:
    """The client authenticates with a secret, so it has no keys to check an assertion with."""
    _, key = keyed_client
    response = await http.post(endpoint, data=with_assertion(assertion(machine, key, settings)))
    oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_an_assertion_living_past_every_date_is_an_invalid_client(
    http: httpx.AsyncClient,
    keyed_client: tuple[str, ECKey],
    settings: Settings,
    engine: AsyncEngine,
    endpoint: str,
) -> None:
    client_id, key = keyed_client
    forever = assertion(client_id, key, settings, exp=10**30)
    oauth_error(await http.post(endpoint, data=with_assertion(forever)), 401, "invalid_client")
    async with engine.connect() as connection:
        kept = await connection.scalar(text("SELECT count(*) FROM used_client_assertions"))
    assert kept == 0  # refused before its jti was recorded, to outlive every pruning


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        "grant_type=client_credentials&grant_type=client_credentials&token=a",
        "grant_type=client_credentials&token=a&token=b",
        "grant_type=client_credentials&token=a&scope=register:read&scope=register:read",
    ],
)
async def test_a_parameter_sent_twice_is_an_invalid_request(
    http: httpx.AsyncClient, machine: str, endpoint: str, body: str
) -> None:
    """RFC 6749 §3.1, §3.2: parameters MUST NOT be included more than once."""
    response = await http.post(endpoint, content=body, headers=FORM_TYPE, auth=(machine, SECRET))
    oauth_error(response, 400, "invalid_request")


async def test_a_parameter_sent_twice_to_the_authorization_endpoint_is_refused(
    http: httpx.AsyncClient, machine: str
) -> None:
    response = await http.get(
        f"/oauth/authorize?response_type=code&client_id={machine}&client_id=other"
    )
    oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_two_authentication_methods_at_once_are_an_invalid_request(
    http: httpx.AsyncClient, machine: str, endpoint: str
) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request."""
    form = {**FORM, "client_id": machine, "client_secret": SECRET}
    oauth_error(
        await http.post(endpoint, data=form, auth=(machine, SECRET)), 400, "invalid_request"
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "form",
    [
        {**FORM, "client_id": "a\x00b", "client_secret": "x"},
        {**FORM, "client_id": "x", "client_secret": "x", "scope": "register:read\x00"},
        {**FORM, "client_id": "x", "client_secret": "x\x00"},
    ],
)
async def test_a_nul_character_is_an_invalid_request(
    http: httpx.AsyncClient, endpoint: str, form: dict[str, str]
) -> None:
    oauth_error(await http.post(endpoint, data=form), 400, "invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_body_that_is_not_utf8_is_an_invalid_request(
    http: httpx.AsyncClient, machine: str, endpoint: str
) -> None:
    response = await http.post(
        endpoint, content=b"grant_type=%ff%fe&token=a", headers=FORM_TYPE, auth=(machine, SECRET)
    )
    oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "credentials",
    [b"\xff\xfe:secret", b"no-colon", b"nul\x00:secret", b"%ff:secret"],
)
async def test_unreadable_basic_credentials_are_an_invalid_client(
    http: httpx.AsyncClient, endpoint: str, credentials: bytes
) -> None:
    header = {"authorization": "Basic " + base64.b64encode(credentials).decode()}
    response = await http.post(endpoint, data=FORM, headers=header)
    oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_too_many_parameters_are_an_invalid_request(
    http: httpx.AsyncClient, machine: str, endpoint: str
) -> None:
    form = {**FORM, **{f"p{n}": "x" for n in range(100)}}
    oauth_error(
        await http.post(endpoint, data=form, auth=(machine, SECRET)), 400, "invalid_request"
    )


@pytest.fixture
async def unreachable(settings: Settings) -> AsyncIterator[Starlette]:
    """The hub with its database unreachable (nothing listens on the port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql://hub@127.0.0.1:{port}/hub", pool_size=1)
    application = create_app(settings, engine=engine)
    async with LifespanManager(application):
        yield application
    await engine.dispose()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_an_unreachable_database_is_a_masked_503_in_json(
    unreachable: Starlette, endpoint: str
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=unreachable), base_url="http://hub.test"
    ) as http:
        response = await http.post(endpoint, data=FORM, auth=("some-client", "some-secret"))
    oauth_error(response, 503, "temporarily_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert "127.0.0.1" not in response.text  # nothing of the fault is shown


async def test_an_unknown_token_type_hint_is_ignored(http: httpx.AsyncClient, machine: str) -> None:
    """RFC 7009 §2.1 and §2.2: the hint only helps the server look; a wrong one is ignored."""
    form = {"token": "not-a-token", "token_type_hint": "no-such-type"}
    introspected = await http.post("/oauth/introspect", data=form, auth=(machine, SECRET))
    assert (introspected.status_code, introspected.json()) == (200, {"active": False})
    revoked = await http.post("/oauth/revoke", data=form, auth=(machine, SECRET))
    assert revoked.status_code == 200, revoked.text


@pytest.mark.parametrize("endpoint", ["/oauth/introspect", "/oauth/revoke"])
async def test_a_missing_token_is_an_invalid_request(
    http: httpx.AsyncClient, machine: str, endpoint: str
) -> None:
    response = await http.post(endpoint, data={"token": ""}, auth=(machine, SECRET))
    oauth_error(response, 400, "invalid_request")
