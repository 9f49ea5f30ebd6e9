"""GraphQL over HTTP as the specification has it, seen from a client: methods, media types,
status codes, and a JSON error with a stable code for every refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench import scenarios
from hub.app import create_app
from hub.settings import Settings, SettingsError
from tests.db_state import snapshot
from tests.events_client import NEED_EVENTS, served
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

GRAPHQL_RESPONSE = "application/graphql-response+json"
VIEWER = "{ viewer { login } }"
OPEN_NEED = """
mutation { openNeed(input: {childId: "x", category: MATERIAL, urgency: LOW,
  description: "winter coat", idempotencyKey: "k"}) { need { id } } }
"""


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees what a client of the served hub would: an exception that escapes the
    application is its plain-text 500, not an exception raised into the test."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


async def post(
    http: httpx.AsyncClient, body: Any, *, accept: str | None = None, token: str | None = None
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await http.post("/graphql", content=json.dumps(body), headers=headers)


async def test_a_query_over_post_answers_in_json_by_default(http: httpx.AsyncClient) -> None:
    for accept in (None, "*/*", "application/json", "application/*"):
        response = await post(http, {"query": "{ __typename }"}, accept=accept)
        assert response.status_code == 200
        assert media(response) == "application/json"
        assert response.json() == {"data": {"__typename": "Query"}}


async def test_the_graphql_response_type_is_preferred_when_accepted(
    http: httpx.AsyncClient,
) -> None:
    for accept in (
        GRAPHQL_RESPONSE,
        f"{GRAPHQL_RESPONSE}, application/json;q=0.9",
        "*/*, " + GRAPHQL_RESPONSE,
    ):
        response = await post(http, {"query": "{ __typename }"}, accept=accept)
        assert (response.status_code, media(response)) == (200, GRAPHQL_RESPONSE)
    preferring_json = f"{GRAPHQL_RESPONSE};q=0.5, application/json"
    response = await post(http, {"query": "{ __typename }"}, accept=preferring_json)
    assert media(response) == "application/json"


async def test_an_unacceptable_accept_header_is_406(http: httpx.AsyncClient) -> None:
    for accept in ("text/plain", "application/xml", f"{GRAPHQL_RESPONSE};q=0, text/html"):
        response = await post(http, {"query": "{ __typename }"}, accept=accept)
        assert response.status_code == 406
        assert codes(response) == ["NOT_ACCEPTABLE"]


async def test_document_errors_are_200_in_json_and_400_without_data_in_graphql_response(
    http: httpx.AsyncClient,
) -> None:
    for document, code in (
        ("{ needs { ", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
    ):
        legacy = await post(http, {"query": document})
        assert legacy.status_code == 200
        assert codes(legacy) == [code]
        strict = await post(http, {"query": document}, accept=GRAPHQL_RESPONSE)
        assert (strict.status_code, media(strict)) == (400, GRAPHQL_RESPONSE)
        assert "data" not in strict.json()
        assert codes(strict) == [code]


async def test_a_variable_that_does_not_coerce_is_a_request_error(gql: GraphQLClient) -> None:
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    body = {
        "query": "query($n: Int!) { needs(first: $n) { edges { cursor } } }",
        "variables": {"n": "many"},
    }
    legacy = await post(gql.http, body, token=token)
    assert (legacy.status_code, codes(legacy)) == (200, ["BAD_USER_INPUT"])
    strict = await post(gql.http, body, accept=GRAPHQL_RESPONSE, token=token)
    assert (strict.status_code, codes(strict)) == (400, ["BAD_USER_INPUT"])
    assert "data" not in strict.json()


async def test_field_errors_keep_200_and_their_data_in_graphql_response(
    http: httpx.AsyncClient,
) -> None:
    # No token: the field refuses, but the request itself was fine and was executed.
    response = await post(http, {"query": VIEWER}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert "data" in response.json()
    assert codes(response) == ["UNAUTHENTICATED"]


async def test_credentials_that_do_not_hold_are_refused_before_execution(
    http: httpx.AsyncClient,
) -> None:
    strict = await post(http, {"query": VIEWER}, accept=GRAPHQL_RESPONSE, token="not-a-token")
    assert strict.status_code == 401
    assert strict.headers["www-authenticate"].startswith("Bearer")
    assert "data" not in strict.json()
    assert codes(strict) == ["UNAUTHENTICATED"]
    # application/json keeps the older behaviour: the request runs and its fields refuse.
    legacy = await post(http, {"query": VIEWER}, token="not-a-token")
    assert (legacy.status_code, codes(legacy)) == (200, ["UNAUTHENTICATED"])


async def test_a_query_over_get_runs(gql: GraphQLClient) -> None:
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    response = await gql.http.get(
        "/graphql",
        params={"query": "query Me { viewer { login } }", "operationName": "Me"},
        headers={"authorization": f"Bearer {token}", "accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"login": "ngo"}}}


async def test_a_mutation_over_get_is_405_and_changes_nothing(http: httpx.AsyncClient) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = await http.get(
            "/graphql", params={"query": OPEN_NEED}, headers={"accept": accept}
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_a_body_that_is_not_json_is_415(http: httpx.AsyncClient) -> None:
    for content_type in ("text/plain", "application/graphql", "application/x-www-form-urlencoded"):
        response = await http.post(
            "/graphql", content="{ __typename }", headers={"content-type": content_type}
        )
        assert response.status_code == 415
        assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]
    response = await http.post("/graphql", content=b'{"query": "{ __typename }"}')
    assert response.status_code == 415


async def test_malformed_requests_are_400_with_a_code(http: httpx.AsyncClient) -> None:
    malformed: list[bytes] = [
        b'{"query": "{ __typename }"',  # not JSON
        b"{}",  # no query
        b'{"query": 42}',
        b'{"query": "{ __typename }", "variables": [1]}',
    ]
    for body in malformed:
        for accept in ("application/json", GRAPHQL_RESPONSE):
            response = await http.post(
                "/graphql",
                content=body,
                headers={"content-type": "application/json", "accept": accept},
            )
            assert response.status_code == 400, body
            assert codes(response) == ["BAD_REQUEST"], body
            assert "data" not in response.json()


async def test_batching_is_off(http: httpx.AsyncClient) -> None:
    response = await post(http, [{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert response.status_code == 400
    assert codes(response) == ["BATCHING_NOT_SUPPORTED"]


async def test_an_unknown_operation_name_is_a_request_error(http: httpx.AsyncClient) -> None:
    body = {"query": "query A { __typename } query B { __typename }", "operationName": "C"}
    legacy = await post(http, body)
    assert (legacy.status_code, codes(legacy)) == (200, ["OPERATION_RESOLUTION_FAILURE"])
    strict = await post(http, body, accept=GRAPHQL_RESPONSE)
    assert (strict.status_code, codes(strict)) == (400, ["OPERATION_RESOLUTION_FAILURE"])


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_a_document_larger_than_the_limit_is_refused_unread(
    http: httpx.AsyncClient, accept: str
) -> None:
    huge = "{ __typename " + " " * 200_000 + "}"
    response = await post(http, {"query": huge}, accept=accept)
    assert response.status_code == 413
    assert codes(response) == ["DOCUMENT_TOO_LARGE"]


async def test_q_0_refuses_only_the_type_it_names(http: httpx.AsyncClient) -> None:
    """RFC 9110: each type takes the quality of the most specific range that matches it."""
    for accept, expected in (
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        ("application/json;q=0, application/*", GRAPHQL_RESPONSE),
        ("application/json;q=0.1, */*;q=0.5", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, */*", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0.2, application/json;q=0.8", "application/json"),
    ):
        response = await post(http, {"query": "{ __typename }"}, accept=accept)
        assert (response.status_code, media(response)) == (200, expected), accept
    for accept in ("application/*;q=0, */*", "application/json;q=0, text/*"):
        response = await post(http, {"query": "{ __typename }"}, accept=accept)
        assert (response.status_code, codes(response)) == (406, ["NOT_ACCEPTABLE"]), accept


NOT_AN_OBJECT: list[bytes] = [b'"{ __typename }"', b"42", b"null", b"true"]
NOT_UTF8 = b'{"query": "{ __typename \xff }"}'
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_NUMBER = b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}"


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_a_body_that_is_not_a_json_object_is_400_with_a_code(
    http: httpx.AsyncClient, accept: str
) -> None:
    for body in [*NOT_AN_OBJECT, NOT_UTF8, DEEP, HUGE_NUMBER]:
        response = await http.post(
            "/graphql", content=body, headers={"content-type": "application/json", "accept": accept}
        )
        assert response.status_code == 400, (body[:40], response.text[:200])
        assert (media(response), codes(response)) == (accept, ["BAD_REQUEST"]), body[:40]


async def test_parameters_of_the_wrong_type_are_400_with_a_code(http: httpx.AsyncClient) -> None:
    query = "query Q { __typename }"
    for wrong in (
        {"query": query, "operationName": 3},
        {"query": query, "operationName": {"name": "Q"}},
        {"query": query, "operationName": ["Q"]},
        {"query": query, "variables": "{}"},
        {"query": query, "extensions": "{}"},
        {"query": query, "extensions": [{}]},
        {"query": ["{ __typename }"]},
    ):
        for accept in ("application/json", GRAPHQL_RESPONSE):
            response = await post(http, wrong, accept=accept)
            assert (response.status_code, codes(response)) == (400, ["BAD_REQUEST"]), wrong
            assert "data" not in response.json()
    # null is as good as leaving a parameter out.
    nulls = {"query": query, "operationName": None, "variables": None, "extensions": None}
    response = await post(http, nulls)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_odd_query_parameters_over_get_are_400_with_a_code(http: httpx.AsyncClient) -> None:
    for query_string in (
        "query={__typename}&variables=nonsense",
        "query={__typename}&variables=[1]",
        "query={__typename}&variables=" + "[" * 5000 + "]" * 5000,
        "query={__typename}&extensions=5",
        "query={__typename}&query={viewer{login}}",
        "query={__typename}&operationName=A&operationName=B",
    ):
        response = await http.get(f"/graphql?{query_string}")
        assert (response.status_code, codes(response)) == (400, ["BAD_REQUEST"]), query_string
    for query_string in ("query={__typename}&variables=", "query={__typename}&extensions={}"):
        response = await http.get(f"/graphql?{query_string}")
        assert response.json() == {"data": {"__typename": "Query"}}, query_string


async def test_a_subscription_over_http_is_refused_with_a_code_and_logs_no_error(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    with caplog.at_level(logging.WARNING):
        for accept in ("application/json", GRAPHQL_RESPONSE):
            over_post = await post(gql.http, {"query": NEED_EVENTS}, accept=accept, token=token)
            over_get = await gql.http.get(
                "/graphql",
                params={"query": NEED_EVENTS},
                headers={"accept": accept, "authorization": f"Bearer {token}"},
            )
            for response in (over_post, over_get):
                assert response.status_code == 400
                assert codes(response) == ["SUBSCRIPTION_NEEDS_WEBSOCKET"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_methods_and_paths_nobody_serves_answer_json_with_a_code(
    http: httpx.AsyncClient,
) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await http.request(method, "/graphql", content=b"{}")
        assert (response.status_code, media(response)) == (405, "application/json"), method
        assert codes(response) == ["METHOD_NOT_ALLOWED"]
        assert "POST" in response.headers["allow"]
    head = await http.head("/graphql")
    assert (head.status_code, head.headers["allow"]) == (405, "GET, POST")
    response = await http.get("/oauth/token")
    assert (response.status_code, media(response)) == (405, "application/json")
    assert "POST" in response.headers["allow"]
    assert response.json()["error"] == "invalid_request"
    response = await http.get("/no/such/path")
    assert (response.status_code, codes(response)) == (404, ["NOT_FOUND"])


TOO_LARGE = 3 * 1024 * 1024  # over the default HUB_MAX_BODY_BYTES, 2 MiB


async def test_a_body_over_the_limit_is_413_on_every_route_and_changes_nothing(
    http: httpx.AsyncClient, engine: AsyncEngine, world: World
) -> None:
    before = await snapshot(engine)
    padding = " " * TOO_LARGE
    graphql = await http.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }" + padding}),
        headers={"content-type": "application/json"},
    )
    assert (graphql.status_code, codes(graphql)) == (413, ["REQUEST_TOO_LARGE"])
    assert graphql.json()["errors"][0]["extensions"]["maxBytes"] == 2 * 1024 * 1024
    form = {"grant_type": "client_credentials", "client_id": "x", "scope": padding}
    oauth = await http.post("/oauth/token", data=form)
    assert oauth.status_code == 413
    assert oauth.json()["error"] == "invalid_request"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        yield b'{"query": "{ __typename }'
        for _ in range(TOO_LARGE // 65536):
            yield b" " * 65536
        yield b'"}'

    chunked = await http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert (chunked.status_code, codes(chunked)) == (413, ["REQUEST_TOO_LARGE"])
    assert await snapshot(engine) == before


async def _the_rest(reader: asyncio.StreamReader) -> bytes:
    """What the hub sends until it closes the connection (it does not wait for the body)."""
    return await asyncio.wait_for(reader.read(), timeout=1)


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    app: Starlette,
) -> None:
    """Served for real: the client announces 64 MB and sends none of it; the hub answers at once
    (it used to wait for the body, and then read and keep all of it)."""
    async with served(app) as address:
        host, port = address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: hub.test\r\n"
            b"Content-Type: application/json\r\nContent-Length: 67108864\r\n\r\n"
        )
        await writer.drain()
        answer = await _the_rest(reader)
        assert answer.startswith(b"HTTP/1.1 413")
        assert b'"code":"REQUEST_TOO_LARGE"' in answer
        writer.close()


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(app: Starlette) -> None:
    """Served for real: a chunked body of no declared length is refused while it streams, long
    before its end; the hub never reads (or keeps) the whole of it."""
    chunk = b" " * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    async with served(app) as address:
        host, port = address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: hub.test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        answer = asyncio.ensure_future(reader.readline())
        sent = 0
        while not answer.done() and sent < 64 * 1024 * 1024:
            writer.write(frame)
            sent += len(chunk)
            await asyncio.wait([answer], timeout=0.001)
            if writer.transport.get_write_buffer_size() > 4 * 1024 * 1024:
                await asyncio.wait([answer], timeout=0.05)  # the hub stopped reading
        status = await asyncio.wait_for(answer, timeout=1)
        assert status.startswith(b"HTTP/1.1 413")
        assert b'"code":"REQUEST_TOO_LARGE"' in await _the_rest(reader)
        # What was sent at most: the limit, and what the two sides' buffers hold.
        assert sent < 16 * 1024 * 1024
        writer.close()


async def test_the_body_limit_is_hub_max_body_bytes(
    engine: AsyncEngine, settings: Settings
) -> None:
    with pytest.raises(SettingsError, match="HUB_MAX_BODY_BYTES must be at least 1024"):
        Settings.from_env({"HUB_MAX_BODY_BYTES": "1000"})
    limit = Settings.from_env({"HUB_MAX_BODY_BYTES": "4096"}).max_body_bytes
    app = create_app(dataclasses.replace(settings, max_body_bytes=limit), engine=engine)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            for size, status in ((4096, 200), (4097, 413)):
                body = json.dumps({"query": "{ __typename }", "variables": {}})
                body = body[:-1] + " " * (size - len(body)) + "}"
                assert len(body.encode()) == size
                response = await client.post(
                    "/graphql", content=body, headers={"content-type": "application/json"}
                )
                assert response.status_code == status, size


async def test_the_compiled_operations_refuse_a_body_that_is_not_json_alike(
    gql: GraphQLClient, world: World
) -> None:
    """The compiled needs page reads the body before the normal path: it must not answer a
    media type that the normal path refuses."""
    token = await gql.tokens.member("ngo")  # type: ignore[union-attr]
    body = json.dumps({"query": scenarios.NEEDS_PAGE, "variables": {"county": COUNTY}})
    for content_type in ("application/json-seq", "application/jsonlines"):
        response = await gql.http.post(
            "/graphql",
            content=body,
            headers={"content-type": content_type, "authorization": f"Bearer {token}"},
        )
        assert (response.status_code, codes(response)) == (415, ["UNSUPPORTED_MEDIA_TYPE"])
    for content_type in ("application/json", "Application/JSON; charset=utf-8"):
        response = await gql.http.post(
            "/graphql",
            content=body,
            headers={"content-type": content_type, "authorization": f"Bearer {token}"},
        )
        assert response.json() == {
            "data": {"needs": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        }
