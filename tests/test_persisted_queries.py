"""Automatic persisted queries, from the point of view of an Apollo client: send the hash; if the
hub does not know it, send the document with the hash; from then on the hash alone will do, on
every hub process, over POST and GET."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from bench.scenarios import NEEDS_PAGE
from hub.app import create_app
from hub.db.models import PersistedDocument
from hub.protocol.persisted_queries import PersistedQueries
from hub.settings import Settings
from tests.auth import Tokens
from tests.test_query_count import seed_needs
from tests.world import COUNTY, World

ME = "query Me { viewer { login } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str, **more: Any) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document), **more}}


class ApolloClient:
    """What Apollo's persisted-queries link does, over one HTTP client."""

    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http = http
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.sent_documents = 0

    async def post(self, body: dict[str, Any], accept: str = "application/json") -> httpx.Response:
        return await self.http.post(
            "/graphql", json=body, headers={**self.headers, "accept": accept}
        )

    async def get(self, params: dict[str, Any]) -> httpx.Response:
        return await self.http.get(
            "/graphql",
            params={k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()},
            headers=self.headers,
        )

    async def query(self, document: str, *, use_get: bool = False) -> dict[str, Any]:
        extensions = persisted(document)
        send = self.get if use_get else self.post
        first = await send({"extensions": extensions})
        body = first.json()
        if any(
            error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            for error in body.get("errors", [])
        ):
            self.sent_documents += 1
            body = (await send({"query": document, "extensions": extensions})).json()
        return dict(body)


@pytest.fixture
async def other_process(
    engine: AsyncEngine, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A second hub process on the same database, with its own memory."""
    application = create_app(settings, engine=engine)
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://hub.test"
        ) as client,
    ):
        yield client


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


async def kept(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            await connection.scalar(select(func.count()).select_from(PersistedDocument)) or 0
        )


async def test_an_unknown_hash_is_not_found_then_registered_then_enough(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = ApolloClient(http, await tokens.member("ngo"))
    first = await client.post({"extensions": persisted(ME)})
    assert first.status_code == 200  # application/json: the client's link reads the body
    assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert await client.query(ME) == {"data": {"viewer": {"login": "ngo"}}}
    assert client.sent_documents == 1
    for _ in range(3):
        assert await client.query(ME) == {"data": {"viewer": {"login": "ngo"}}}
    assert client.sent_documents == 1


async def test_not_found_is_404_without_data_in_graphql_response(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = ApolloClient(http, await tokens.member("ngo"))
    response = await client.post({"extensions": persisted(ME)}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 404
    assert "data" not in response.json()
    assert codes(response) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_persisted_queries_work_over_get(http: httpx.AsyncClient, tokens: Tokens) -> None:
    client = ApolloClient(http, await tokens.member("ngo"))
    for _ in range(2):
        assert await client.query(ME, use_get=True) == {"data": {"viewer": {"login": "ngo"}}}
    assert client.sent_documents == 1


async def test_a_mutation_by_hash_over_get_is_still_405(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = ApolloClient(http, await tokens.member("admin"))
    mutation = 'mutation { revokeClient(clientId: "nobody") { client { clientId } } }'
    registered = await client.post({"query": mutation, "extensions": persisted(mutation)})
    assert codes(registered) == ["NOT_FOUND"]  # ran, and was kept
    response = await client.get({"extensions": persisted(mutation)})
    assert response.status_code == 405
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_a_hash_that_is_not_the_documents_is_refused(
    http: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    client = ApolloClient(http, await tokens.member("ngo"))
    wrong = persisted("{ __typename }")
    response = await client.post({"query": ME, "extensions": wrong})
    assert response.status_code == 400
    assert codes(response) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert await kept(engine) == 0
    # Nor does the hash now stand for the document it was sent with.
    again = await client.post({"extensions": wrong})
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_malformed_persisted_query_extensions_are_refused(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = ApolloClient(http, await tokens.member("ngo"))
    for extensions in (
        persisted(ME, version=2),
        {"persistedQuery": {"version": 1, "sha256Hash": "abc"}},
        {"persistedQuery": "yes"},
    ):
        response = await client.post({"extensions": extensions})
        assert response.status_code == 400
        assert codes(response) == ["PERSISTED_QUERY_INVALID"]


async def test_only_valid_documents_of_signed_in_callers_are_kept(
    http: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine
) -> None:
    anonymous = ApolloClient(http, None)
    await anonymous.post({"query": "{ __typename }", "extensions": persisted("{ __typename }")})
    member = ApolloClient(http, await tokens.member("ngo"))
    invalid = "{ noSuchField }"
    response = await member.post({"query": invalid, "extensions": persisted(invalid)})
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await kept(engine) == 0
    await member.query(ME)
    assert await kept(engine) == 1


async def test_a_document_registered_on_one_process_is_found_on_another(
    http: httpx.AsyncClient,
    tokens: Tokens,
    engine: AsyncEngine,
    other_process: httpx.AsyncClient,
) -> None:
    token = await tokens.member("ngo")
    assert (await ApolloClient(http, token).query(ME))["data"]
    elsewhere = ApolloClient(other_process, token)
    assert await elsewhere.query(ME) == {"data": {"viewer": {"login": "ngo"}}}
    assert elsewhere.sent_documents == 0


async def test_the_per_process_cache_is_bounded(app: Starlette) -> None:
    store = PersistedQueries(app.state.sessions, cache_size=3)
    for number in range(5):
        document = f"query Q{number} {{ __typename }}"
        await store.keep(sha256(document), document)
    assert len(store._cache) == 3
    # Dropped from memory, still found in the database.
    assert await store.find(sha256("query Q0 { __typename }")) == "query Q0 { __typename }"


async def test_the_compiled_needs_page_answers_its_hash_without_being_sent_it(
    http: httpx.AsyncClient, tokens: Tokens, engine: AsyncEngine, world: World
) -> None:
    await seed_needs(engine, children=3)
    client = ApolloClient(http, await tokens.member("ngo"))
    variables = {"county": COUNTY, "after": None}
    # Nothing was ever registered, yet the hash alone is answered: the hub knows its compiled
    # documents. The answer is the one the document itself gets.
    by_hash = await client.post({"extensions": persisted(NEEDS_PAGE), "variables": variables})
    by_text = await client.post({"query": NEEDS_PAGE, "variables": variables})
    assert by_hash.status_code == 200 and len(by_hash.json()["data"]["needs"]["edges"]) == 6
    assert by_hash.json() == by_text.json()
    assert await kept(engine) == 0
    # A hash that is not the text's is refused, as for any other document.
    wrong = await client.post(
        {"query": NEEDS_PAGE, "extensions": persisted(ME), "variables": variables}
    )
    assert codes(wrong) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    # Malformed extensions are the normal path's to refuse, compiled document or not.
    refused = await client.post(
        {"extensions": persisted(NEEDS_PAGE, version=2), "variables": variables}
    )
    assert codes(refused) == ["PERSISTED_QUERY_INVALID"]
