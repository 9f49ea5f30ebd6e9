"""Trusted documents: a government integration restricted to the operations it was reviewed
for runs those and nothing else, over HTTP (in full, by hash, through the compiled needs page)
and over the WebSocket; admins manage the lists, and nobody else can."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from typer.testing import CliRunner, Result

from bench import scenarios
from hub.cli import cli
from hub.db.models import AuditEvent, TrustedDocument
from hub.settings import Settings
from hub.vocabulary import Role
from tests.auth import Tokens, add_client
from tests.events_client import NEED_EVENTS, served, subscribed
from tests.graphql import GraphQLClient
from tests.test_query_count import seed_needs
from tests.world import COUNTY, World

WHO = "query Who { viewer { login } }"
NEEDS = "query Open { needs(first: 5) { edges { node { id status } } } }"
TRUST = """
mutation($input: TrustDocumentInput!) {
  trustDocument(input: $input) { document { clientId sha256 name } }
}
"""
RESTRICT = """
mutation($id: String!, $only: Boolean!) {
  restrictClient(clientId: $id, trustedDocumentsOnly: $only) { clientId trustedDocumentsOnly }
}
"""
DISTRUST = """
mutation($id: String!, $sha: String!) {
  distrustDocument(clientId: $id, sha256: $sha) { clientId sha256 }
}
"""
LIST = """
query($id: String!) {
  trustedDocuments(clientId: $id) { trustedDocumentsOnly documents { sha256 name document } }
}
"""


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


async def integration(
    engine: AsyncEngine, settings: Settings, world: World, tokens: Tokens
) -> tuple[str, str]:
    """A government system of the Gan county bureau: its client id and an access token."""
    _, client_id = await add_client(
        engine,
        settings,
        world.providers["gan_bureau"],
        grants=[(Role.GOVERNMENT_OFFICER, COUNTY)],
    )
    return client_id, await tokens.sign(client_id=client_id)


@pytest.fixture
async def restricted(
    gql: GraphQLClient, engine: AsyncEngine, settings: Settings, world: World, tokens: Tokens
) -> tuple[str, str]:
    """The integration, allowed WHO (and the need events subscription), and restricted."""
    client_id, token = await integration(engine, settings, world, tokens)
    for name, document in (("who am I", WHO), ("follow needs", NEED_EVENTS)):
        variables = {"input": {"clientId": client_id, "name": name, "document": document}}
        (await gql(TRUST, variables, as_="admin")).ok()
    (await gql(RESTRICT, {"id": client_id, "only": True}, as_="admin")).ok()
    return client_id, token


async def post(
    http: httpx.AsyncClient, token: str, body: dict[str, object], accept: str = "application/json"
) -> httpx.Response:
    return await http.post(
        "/graphql", json=body, headers={"authorization": f"Bearer {token}", "accept": accept}
    )


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


async def test_a_restricted_client_runs_its_trusted_documents_only(
    http: httpx.AsyncClient, restricted: tuple[str, str]
) -> None:
    client_id, token = restricted
    allowed = await post(http, token, {"query": WHO})
    assert allowed.json() == {"data": {"viewer": {"login": f"client {client_id}"}}}
    refused = await post(http, token, {"query": NEEDS})
    assert (refused.status_code, codes(refused)) == (200, ["OPERATION_NOT_TRUSTED"])
    assert "data" not in refused.json()
    strict = await post(http, token, {"query": NEEDS}, "application/graphql-response+json")
    assert (strict.status_code, codes(strict)) == (403, ["OPERATION_NOT_TRUSTED"])
    # The exact text is trusted, not a document that merely means the same.
    reformatted = await post(http, token, {"query": WHO.replace(" {", "{")})
    assert codes(reformatted) == ["OPERATION_NOT_TRUSTED"]


async def test_a_restricted_client_may_send_a_trusted_document_by_hash(
    http: httpx.AsyncClient, restricted: tuple[str, str]
) -> None:
    client_id, token = restricted
    me = {"data": {"viewer": {"login": f"client {client_id}"}}}
    by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(WHO)}}}
    assert (await post(http, token, by_hash)).json() == me
    over_get = await http.get(
        "/graphql",
        params={"extensions": f'{{"persistedQuery":{{"version":1,"sha256Hash":"{sha256(WHO)}"}}}}'},
        headers={"authorization": f"Bearer {token}"},
    )
    assert over_get.json() == me
    # Registering a new document by APQ does not make it trusted.
    body = {
        "query": NEEDS,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(NEEDS)}},
    }
    assert codes(await post(http, token, body)) == ["OPERATION_NOT_TRUSTED"]


async def test_unrestricted_clients_are_unaffected(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    tokens: Tokens,
    restricted: tuple[str, str],
) -> None:
    client_id, token = await integration(engine, settings, world, tokens)
    # Trusted documents of its own do not restrict a client until it is restricted.
    variables = {"input": {"clientId": client_id, "name": "who am I", "document": WHO}}
    (await gql(TRUST, variables, as_="admin")).ok()
    assert not codes(await post(http, token, {"query": NEEDS}))
    assert (await gql(NEEDS, as_="officer")).ok()


async def test_lifting_the_restriction_and_distrusting_take_effect_at_once(
    http: httpx.AsyncClient, gql: GraphQLClient, restricted: tuple[str, str]
) -> None:
    client_id, token = restricted
    (await gql(DISTRUST, {"id": client_id, "sha": sha256(WHO)}, as_="admin")).ok()
    assert codes(await post(http, token, {"query": WHO})) == ["OPERATION_NOT_TRUSTED"]
    (await gql(RESTRICT, {"id": client_id, "only": False}, as_="admin")).ok()
    assert not codes(await post(http, token, {"query": NEEDS}))


async def test_admins_list_the_documents_and_every_change_is_audited(
    gql: GraphQLClient, engine: AsyncEngine, restricted: tuple[str, str]
) -> None:
    client_id, _ = restricted
    listed = (await gql(LIST, {"id": client_id}, as_="admin")).ok()["trustedDocuments"]
    assert listed["trustedDocumentsOnly"] is True
    assert {(d["name"], d["sha256"]) for d in listed["documents"]} == {
        ("who am I", sha256(WHO)),
        ("follow needs", sha256(NEED_EVENTS)),
    }
    async with engine.connect() as connection:
        actions = (
            await connection.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_id == client_id)
                .order_by(AuditEvent.id)
            )
        ).all()
    assert actions == ["client.document_trusted", "client.document_trusted", "client.restricted"]


async def test_only_admins_manage_trusted_documents(
    gql: GraphQLClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    tokens: Tokens,
) -> None:
    client_id, _ = await integration(engine, settings, world, tokens)
    variables = {"input": {"clientId": client_id, "name": "everything", "document": NEEDS}}
    for login in ("officer", "ngo", "auditor"):
        assert (await gql(TRUST, variables, as_=login)).codes == ["FORBIDDEN"]
        restrict = await gql(RESTRICT, {"id": client_id, "only": False}, as_=login)
        assert restrict.codes == ["FORBIDDEN"]
        assert (await gql(LIST, {"id": client_id}, as_=login)).codes == ["FORBIDDEN"]
    async with engine.connect() as connection:
        assert (await connection.scalars(select(TrustedDocument.sha256))).all() == []


async def test_a_trusted_document_must_be_one_the_hub_runs(
    gql: GraphQLClient, engine: AsyncEngine, settings: Settings, world: World, tokens: Tokens
) -> None:
    client_id, _ = await integration(engine, settings, world, tokens)
    for document, sha in (("{ viewer { nope } }", None), ("{ viewer ", None), (WHO, "0" * 64)):
        variables = {
            "input": {"clientId": client_id, "name": "x", "document": document, "sha256": sha}
        }
        result = await gql(TRUST, variables, as_="admin")
        assert result.codes == ["BAD_USER_INPUT"], document
    unknown = {"input": {"clientId": "hub-nobody", "name": "x", "document": WHO}}
    assert (await gql(TRUST, unknown, as_="admin")).codes == ["NOT_FOUND"]


async def test_the_compiled_needs_page_is_no_way_around_the_list(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    engine: AsyncEngine,
    world: World,
    restricted: tuple[str, str],
) -> None:
    client_id, token = restricted
    await seed_needs(engine, children=2)
    body = {"query": scenarios.NEEDS_PAGE, "variables": {"county": COUNTY, "after": None}}
    assert codes(await post(http, token, body)) == ["OPERATION_NOT_TRUSTED"]
    variables = {
        "input": {"clientId": client_id, "name": "needs page", "document": scenarios.NEEDS_PAGE}
    }
    (await gql(TRUST, variables, as_="admin")).ok()
    page = (await post(http, token, body)).json()
    assert page["data"]["needs"]["edges"]


@pytest.fixture
async def hub(app: Starlette) -> AsyncIterator[str]:
    async with served(app) as address:
        yield address


async def test_over_the_websocket_too(
    hub: str,
    gql: GraphQLClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    tokens: Tokens,
    restricted: tuple[str, str],
) -> None:
    client_id, token = restricted
    async with subscribed(hub, token) as stream:
        assert await stream.quiet(0.5)  # trusted: subscribed, waiting for events
    (await gql(DISTRUST, {"id": client_id, "sha": sha256(NEED_EVENTS)}, as_="admin")).ok()
    async with subscribed(hub, token) as stream:
        assert await stream.ended_with() == ["OPERATION_NOT_TRUSTED"]


async def test_admins_manage_the_lists_from_the_command_line_too(
    http: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    tokens: Tokens,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_id, token = await integration(engine, settings, world, tokens)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    document = tmp_path / "who.graphql"
    document.write_text(WHO, encoding="utf-8")

    def hub(*args: str) -> Result:
        return CliRunner().invoke(
            cli, ["clients", *args, "--as", "admin", "--client-id", client_id]
        )

    trusted = await asyncio.to_thread(
        hub, "trust", "--name", "who am I", "--document", str(document)
    )
    assert trusted.exit_code == 0, trusted.output
    assert sha256(WHO) in trusted.output
    assert (await asyncio.to_thread(hub, "restrict")).exit_code == 0
    assert codes(await post(http, token, {"query": NEEDS})) == ["OPERATION_NOT_TRUSTED"]
    assert not codes(await post(http, token, {"query": WHO}))
    assert (await asyncio.to_thread(hub, "distrust", "--sha256", sha256(WHO))).exit_code == 0
    assert codes(await post(http, token, {"query": WHO})) == ["OPERATION_NOT_TRUSTED"]
    assert (await asyncio.to_thread(hub, "restrict", "--lift")).exit_code == 0
    assert not codes(await post(http, token, {"query": NEEDS}))
    # The command line goes through the same rules: a coordinator may not.
    refused = await asyncio.to_thread(
        CliRunner().invoke, cli, ["clients", "restrict", "--as", "ngo", "--client-id", client_id]
    )
    assert refused.exit_code == 1
    assert "FORBIDDEN" in refused.output
