"""A database that refuses connections (down, restarting) is 503 ``DATABASE_UNAVAILABLE`` with
``Retry-After`` on every path - never a plain-text 500, never a 200 carrying the driver's
message - and over the WebSocket a close that says to try again later.

The database is cut through a proxy of the test's own (``tests.db_proxy``): new connections
are refused and open ones broken, as when the server goes down."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from websockets.asyncio.client import connect

from bench import scenarios
from hub.app import create_app
from hub.db.engine import create_engine
from hub.fast_claim import CLAIM_NEED
from hub.settings import Settings
from tests.auth import Tokens
from tests.coordination import a_child, a_need, new_key
from tests.db_proxy import proxied
from tests.events_client import NEED_EVENTS, PROTOCOL, Rejected, served, subscribed
from tests.graphql import GraphQLClient
from tests.proxied_hub import ProxiedHub, proxied_hub
from tests.world import COUNTY, World

NEEDS = "query Needs($county: String!) { needs(filter: {jurisdiction: $county}) { nodes { id } } }"
A_NEED = "TmVlZDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDE="
GRAPHQL_RESPONSE = "application/graphql-response+json"
# What the driver and SQLAlchemy would say, and where the database is: none of it for clients.
DRIVER_TEXT = ("asyncpg", "sqlalchemy", "errno", "connect call", "connection", "127.0.0.1")


def quick(settings: Settings) -> Settings:
    # Keys are read again after a second, so that /.well-known/jwks.json reaches the database.
    return dataclasses.replace(settings, request_timeout_seconds=5.0, signing_keys_refresh=1)


def assert_unavailable(name: str, response: httpx.Response, port: int | None) -> None:
    assert response.status_code == 503, (name, response.status_code, response.text)
    assert int(response.headers["Retry-After"]) > 0, name
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DATABASE_UNAVAILABLE"], name
    assert body["errors"][0]["extensions"]["requestId"], name
    text = response.text.lower()
    where = () if port is None else (str(port),)
    leaked = [fragment for fragment in (*DRIVER_TEXT, *where) if fragment in text]
    assert not leaked, (name, leaked, response.text)


def graphql(
    hub: ProxiedHub, body: dict[str, Any], token: str | None = None, accept: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept:
        headers["Accept"] = accept
    return hub.http.post("/graphql", json=body, headers=headers)


async def test_every_http_path_answers_503_database_unavailable(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("ngo")
    needs = {"query": NEEDS, "variables": {"county": COUNTY}}
    async with proxied_hub(database_url, quick(settings)) as hub:
        assert (await graphql(hub, needs, token)).json()["data"]  # keys loaded, pool open
        assert (await hub.http.get("/.well-known/jwks.json")).status_code == 200
        await hub.proxy.refuse()
        await asyncio.sleep(1.1)  # the signing keys are due to be read again
        requests = {
            "bearer check": graphql(hub, needs, token),
            "bearer check, graphql-response+json": graphql(hub, needs, token, GRAPHQL_RESPONSE),
            "GET": hub.http.get(
                "/graphql",
                params={"query": NEEDS, "variables": json.dumps({"county": COUNTY})},
                headers={"Authorization": f"Bearer {token}"},
            ),
            "compiled needs page": graphql(
                hub, {"query": scenarios.NEEDS_PAGE, "variables": {"county": COUNTY}}, token
            ),
            "compiled claim": graphql(
                hub, {"query": CLAIM_NEED, "variables": {"need": A_NEED, "key": "k-1"}}, token
            ),
            # Anonymous: the first thing to reach the database is the charge, during execution.
            "rate-limit charge": graphql(hub, {"query": "{ __typename }"}),
            "rate-limit charge, graphql-response+json": graphql(
                hub, {"query": "{ __typename }"}, accept=GRAPHQL_RESPONSE
            ),
            "persisted query": graphql(
                hub, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}}
            ),
            "token": hub.http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=("c", "s")
            ),
            "introspect": hub.http.post("/oauth/introspect", data={"token": "t"}, auth=("c", "s")),
            "revoke": hub.http.post("/oauth/revoke", data={"token": "t"}, auth=("c", "s")),
            "sign-in page": hub.http.get(
                "/oauth/authorize",
                params={"response_type": "code", "client_id": "c", "code_challenge": "x" * 43},
            ),
            "jwks": hub.http.get("/.well-known/jwks.json"),
        }
        answers = await asyncio.gather(*requests.values())
        for name, response in zip(requests, answers, strict=True):
            assert_unavailable(name, response, hub.proxy.port)
        # What needs no database still answers.
        assert (await hub.http.get("/.well-known/oauth-authorization-server")).status_code == 200
        assert (await hub.http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("53300", "sorry, too many clients already"),
    ],
)
async def test_a_server_that_turns_connections_away_says_database_unavailable(
    database_url: str, settings: Settings, tokens: Tokens, world: World, sqlstate: str, message: str
) -> None:
    """A server starting up (or in recovery), or out of connection slots, turns connections
    away: the hub starts anyway, says it is not ready, and answers 503 DATABASE_UNAVAILABLE."""
    token = await tokens.member("ngo")
    async with proxied(database_url) as (proxy, url):
        await proxy.turn_away(sqlstate, message)
        engine = create_engine(url, pool_size=1)
        app = create_app(quick(settings), engine=engine)
        try:
            async with LifespanManager(app) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://hub.test"
                ) as http:
                    ready = await http.get("/readyz")
                    assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")
                    response = await http.post(
                        "/graphql",
                        json={"query": NEEDS, "variables": {"county": COUNTY}},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert_unavailable(sqlstate, response, proxy.port)
                    assert message not in response.text
                    await proxy.refuse()
        finally:
            await engine.dispose()


async def test_a_field_that_loses_the_database_mid_request_says_database_unavailable(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    """The token is checked and the request charged; then the connection is lost at the
    field's own statement. The field's error carries the code, masked, and the response is a
    503 for the client to retry."""
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, quick(settings), pool_size=1) as hub:
        # Warm without reading needs, so that their statement is sent in full below.
        assert (await graphql(hub, {"query": "{ __typename }"}, token)).status_code == 200
        hub.proxy.cut_at(b"FROM needs")
        response = await graphql(hub, {"query": NEEDS, "variables": {"county": COUNTY}}, token)
        assert_unavailable("field", response, hub.proxy.port)
        assert response.json()["errors"][0]["path"] == ["needs"]


async def test_a_compiled_claim_whose_commit_is_lost_says_retry_after(
    database_url: str, settings: Settings, tokens: Tokens, gql: GraphQLClient
) -> None:
    """The compiled claim's connection is lost at its COMMIT, whose fate is then unknown: the
    answer is the normal path's, 503 DATABASE_UNAVAILABLE with Retry-After, for the client to
    retry with the same idempotency key."""
    need = await a_need(gql, await a_child(gql))
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, quick(settings), pool_size=1) as hub:
        # Warm: the signing keys are read (in a transaction of their own) before the cut.
        assert (await graphql(hub, {"query": "{ __typename }"}, token)).status_code == 200
        hub.proxy.cut_at(b"COMMIT;")  # not BEGIN ... READ COMMITTED;
        claim = {"query": CLAIM_NEED, "variables": {"need": need, "key": new_key()}}
        response = await graphql(hub, claim, token)
        assert_unavailable("compiled claim", response, hub.proxy.port)
        assert response.json()["errors"][0]["path"] == ["claimNeed"]


async def test_over_a_websocket_connection_init_and_subscriptions_say_retry_later(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, quick(settings)) as hub, served(hub.app) as address:
        # Connected while the database was up; a second subscription asked once it is gone.
        async with connect(f"ws://{address}/graphql", subprotocols=[PROTOCOL]) as connection:  # type: ignore[list-item]
            init = {"Authorization": f"Bearer {token}"}
            await connection.send(json.dumps({"type": "connection_init", "payload": init}))
            assert json.loads(await connection.recv())["type"] == "connection_ack"
            await hub.proxy.refuse()
            subscribe = {"query": NEED_EVENTS, "variables": {"jurisdiction": COUNTY}}
            await connection.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": subscribe})
            )
            message = json.loads(await asyncio.wait_for(connection.recv(), 10))
            payload = message["payload"]
            errors = payload if message["type"] == "error" else payload["errors"]
            assert [e["extensions"]["code"] for e in errors] == ["DATABASE_UNAVAILABLE"], message
            assert not any(fragment in json.dumps(errors).lower() for fragment in DRIVER_TEXT)
            # A query over the same connection: its charge cannot reach the database either.
            query = {"query": NEEDS, "variables": {"county": COUNTY}}
            await connection.send(json.dumps({"id": "2", "type": "subscribe", "payload": query}))
            message = json.loads(await asyncio.wait_for(connection.recv(), 10))
            while message.get("id") != "2":  # the first one's complete
                message = json.loads(await asyncio.wait_for(connection.recv(), 10))
            payload = message["payload"]
            errors = payload if message["type"] == "error" else payload["errors"]
            assert [e["extensions"]["code"] for e in errors] == ["DATABASE_UNAVAILABLE"], message

        # A new connection cannot be authenticated: closed with 1013, try again later.
        with pytest.raises(Rejected) as rejected:
            async with subscribed(address, token):
                pass
        assert (rejected.value.code, rejected.value.reason) == (1013, "DATABASE_UNAVAILABLE")


async def test_an_unexpected_failure_is_masked_json_not_plain_text(
    database_url: str, settings: Settings, tokens: Tokens, world: World
) -> None:
    """Another failure that escapes a handler is 500 INTERNAL_SERVER_ERROR with a request id,
    in JSON, not Starlette's plain-text page."""
    token = await tokens.member("ngo")
    async with proxied_hub(database_url, quick(settings)) as hub:

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret detail")

        hub.app.state.authenticator.principal = broken
        response = await graphql(hub, {"query": NEEDS}, token)
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"]
    assert "secret detail" not in response.text


async def test_a_local_server_whose_socket_is_gone_says_database_unavailable(
    settings: Settings, tmp_path: Path
) -> None:
    """A server on this machine reached through its Unix socket (the embedded one, say) that is
    down has no socket file: connecting fails with ENOENT, which is the database being down,
    not a fault of the hub's, on /graphql and /oauth/token alike."""
    engine = create_engine(f"postgresql://postgres@/hub?host={tmp_path / 'gone'}", pool_size=1)
    app = create_app(quick(settings), engine=engine)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
                ready = await http.get("/readyz")
                assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")
                anonymous = await http.post("/graphql", json={"query": "{ __typename }"})
                token = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=("some-client", "some-secret"),
                )
        for name, response in (("graphql", anonymous), ("token", token)):
            assert_unavailable(name, response, None)
            assert str(tmp_path) not in response.text
        assert token.json()["error"] == "temporarily_unavailable"
    finally:
        await engine.dispose()
