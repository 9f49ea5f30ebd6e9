"""Property-based fuzzing of the HTTP surface: whatever a client sends, the hub answers a 4xx or a
200 whose every error carries a stable code, and never a 5xx, an internal error, or a trace of
its insides (a traceback, a driver's name).

Queries and mutations are generated from the schema the hub serves (hypothesis-graphql), with
generated argument values, some of them the ids and codes of a small known register so that
they reach real rows; they are sent as anonymous, an official, a provider's coordinator and a
platform admin. Malformed requests - bodies, headers, methods, query strings - go to /graphql
and /oauth/token. Every example that may write starts from the same database (tests/
db_baseline.py). The runs are derandomized, bounded, and keep no example database, so CI sees
the same examples every time.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.schema.root import build_schema
from tests import db_baseline
from tests.coordination import a_child, a_need, claimed
from tests.graphql import GraphQLClient
from tests.world import COUNTY, OTHER_COUNTY, TOWNSHIP, VILLAGE, World

SCHEMA = build_schema()._schema
PRINCIPALS = (None, "officer", "ngo", "admin")  # None: anonymous

# What an answer must never show: a traceback, or the names of what runs below the hub.
LEAKS = re.compile(r"Traceback|File \"|asyncpg|sqlalchemy|psycopg|pgserver", re.IGNORECASE)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=120,
    # The fixtures (the application, the world, the tokens) are made once per test on purpose;
    # examples that may write put the database back themselves.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def check_graphql_answer(response: httpx.Response, sent: object) -> None:
    """A response of /graphql as a client may rely on it."""
    where = f"{response.request.method} {response.request.url} {sent!r:.2000}"
    assert response.status_code < 500, f"{where}\n{response.status_code} {response.text:.2000}"
    assert not LEAKS.search(response.text), f"{where}\n{response.text:.2000}"
    if response.request.method == "HEAD":
        return
    media = response.headers.get("content-type", "").split(";")[0]
    assert media in ("application/json", "application/graphql-response+json"), where
    body = response.json()
    assert isinstance(body, dict), where
    if response.status_code >= 400:
        assert body.get("errors"), f"{where}\n{body}"
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        assert isinstance(code, str) and code, f"{where}\nan error without a code: {error}"
        assert code != "INTERNAL_SERVER_ERROR", f"{where}\n{error}"


def check_oauth_answer(response: httpx.Response, sent: object) -> None:
    where = f"{response.request.method} {response.request.url} {sent!r:.2000}"
    assert response.status_code < 500, f"{where}\n{response.status_code} {response.text:.2000}"
    assert not LEAKS.search(response.text), f"{where}\n{response.text:.2000}"
    if response.status_code >= 400 and response.request.method != "HEAD":
        assert response.headers["content-type"].startswith("application/json"), where
        error = response.json().get("error")
        assert isinstance(error, str) and error, f"{where}\n{response.text:.2000}"


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees what a client of the served hub would: an exception that escapes the
    application is its plain-text 500, not an exception raised into the test."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


class Register:
    """A small register to aim at: its ids and codes, the tokens of those who ask, and the
    database as it was once made, to put back."""

    def __init__(self, ids: list[str], strings: list[str], tokens: dict[str, str]) -> None:
        self.ids = ids
        self.strings = strings
        self.tokens = tokens
        self.tables: list[str] = []

    def headers(self, principal: str | None) -> dict[str, str]:
        if principal is None:
            return {}
        return {"authorization": f"Bearer {self.tokens[principal]}"}


@pytest.fixture
async def register(
    gql: GraphQLClient, engine: AsyncEngine, world: World
) -> AsyncIterator[Register]:
    child = await a_child(gql, consent=True)
    need = await a_need(gql, child)
    claim_id = str((await claimed(gql, need, "ngo"))["claim"]["id"])
    assert gql.tokens is not None
    tokens = {login: await gql.tokens.member(login) for login in PRINCIPALS if login}
    ids = [child, need, claim_id, *map(str, world.providers.values())]
    strings = [COUNTY, OTHER_COUNTY, TOWNSHIP, VILLAGE, "36", "3607", "Need", "Child", "Region"]
    made = Register(ids, strings, tokens)
    made.tables = await db_baseline.save(engine)
    yield made
    await db_baseline.drop(engine)


# Any character at all, NUL and lone surrogates included: text no field can hold is refused as
# BAD_USER_INPUT (or, inside the document's own text, as a parse failure), never a crash.
CHARACTERS = st.characters(exclude_categories=())


def _string_nodes(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(st.sampled_from(known), st.text(CHARACTERS, max_size=30)).map(nodes.String)


def _representations(register: Register) -> st.SearchStrategy[graphql.ValueNode]:
    """``_Any``: an entity representation, of a known or made-up type and key."""
    typename = st.sampled_from(["Need", "Child", "Region", "Provider", "Claim", "Nope"])
    key = st.sampled_from(["id", "code"])
    value = st.one_of(st.sampled_from(register.ids + register.strings), st.text(CHARACTERS))
    return st.builds(
        lambda name, key_name, key_value: nodes.Object(
            [
                graphql.ObjectFieldNode(
                    name=graphql.NameNode(value="__typename"), value=nodes.String(name)
                ),
                graphql.ObjectFieldNode(
                    name=graphql.NameNode(value=key_name), value=nodes.String(key_value)
                ),
            ]
        ),
        typename,
        key,
        value,
    )


def _scalars(register: Register) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    nonsense = st.text(CHARACTERS, max_size=12)
    return {
        "ID": _string_nodes(register.ids),
        "String": _string_nodes(register.strings),
        "Date": st.one_of(st.dates().map(str), nonsense).map(nodes.String),
        "DateTime": st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), nonsense
        ).map(nodes.String),
        "Decimal": st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str), nonsense
        ).map(nodes.String),
        "JSON": st.one_of(nonsense.map(nodes.String), st.integers().map(nodes.Int)),
        "_Any": _representations(register),
    }


def documents(register: Register, kind: str) -> st.SearchStrategy[str]:
    """Queries or mutations of the schema, each of one root field drawn first (so that every
    field gets its turn); now and then one with a single schema violation."""
    root = SCHEMA.query_type if kind == "query" else SCHEMA.mutation_type
    assert root is not None
    make = queries if kind == "query" else mutations
    scalars = _scalars(register)

    def of(field: str, mode: Mode) -> st.SearchStrategy[str]:
        return make(
            SCHEMA, fields=[field], custom_scalars=scalars, allow_x00=True, codec=None, mode=mode
        )

    picks = [(name, Mode.POSITIVE) for name in sorted(root.fields)]
    picks += [
        (name, Mode.NEGATIVE) for name, field in sorted(root.fields.items()) if _violable(field)
    ]
    return st.sampled_from(picks).flatmap(lambda pick: of(*pick))


def _violable(field: graphql.GraphQLField) -> bool:
    """Whether hypothesis-graphql can break the field's own arguments (its negative mode)."""
    return any(
        graphql.is_non_null_type(argument.type)
        or isinstance(graphql.get_named_type(argument.type), graphql.GraphQLEnumType)
        or graphql.get_named_type(argument.type).name in ("Int", "Float", "String", "ID", "Boolean")
        for argument in field.args.values()
    )


async def _send_document(
    http: httpx.AsyncClient, register: Register, document: str, principal: str | None, accept: str
) -> None:
    headers = {**register.headers(principal), "accept": accept}
    # JSON as most clients write it, non-ASCII escaped: any string, even a lone surrogate, goes.
    body = json.dumps({"query": document}).encode()
    headers["content-type"] = "application/json"
    response = await http.post("/graphql", content=body, headers=headers)
    check_graphql_answer(response, (principal, document))


ACCEPTS = st.sampled_from(["application/json", "application/graphql-response+json"])


@FUZZ
@given(data=st.data())
async def test_generated_queries_answer_with_codes_and_no_5xx(
    http: httpx.AsyncClient, register: Register, data: st.DataObject
) -> None:
    document = data.draw(documents(register, "query"), label="document")
    accept = data.draw(ACCEPTS, label="accept")
    for principal in PRINCIPALS:
        await _send_document(http, register, document, principal, accept)


@settings(FUZZ, max_examples=80)
@given(data=st.data())
async def test_generated_mutations_answer_with_codes_and_no_5xx(
    http: httpx.AsyncClient, register: Register, engine: AsyncEngine, data: st.DataObject
) -> None:
    document = data.draw(documents(register, "mutation"), label="document")
    accept = data.draw(ACCEPTS, label="accept")
    for principal in PRINCIPALS:
        await db_baseline.restore(engine, register.tables)
        await _send_document(http, register, document, principal, accept)


# Malformed requests: JSON of any shape, bytes, and the parameters with values of any type.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(CHARACTERS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
KNOWN_DOCUMENTS = st.sampled_from(["{ __typename }", "{ viewer { login } }"])
PARAMETERS = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(
            st.sampled_from(["{ __typename }", "{ viewer { login } }"]), JSON_VALUES
        ),
        "variables": JSON_VALUES,
        "operationName": JSON_VALUES,
        "extensions": st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries({"persistedQuery": JSON_VALUES}),
            st.fixed_dictionaries(
                {
                    "persistedQuery": st.fixed_dictionaries(
                        {"version": JSON_VALUES, "sha256Hash": st.text(max_size=70)}
                    )
                }
            ),
        ),
    },
)
BODIES = st.one_of(
    PARAMETERS.map(lambda parameters: json.dumps(parameters).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"[" * 50_000, b'{"query": "{ __typename }"', b"\xff\xfe{}", b""]),
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/graphql",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
ACCEPT_HEADERS = st.one_of(
    st.sampled_from(
        [
            "*/*",
            "application/json;q=0, */*",
            "application/graphql-response+json;q=0.5, application/json",
            "multipart/mixed;subscriptionSpec=1.0, application/json",
            "text/event-stream",
            "application/json;q=nonsense",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])


def _query_string() -> st.SearchStrategy[str]:
    names = st.sampled_from(["query", "variables", "operationName", "extensions", "x"])
    values = st.one_of(
        st.sampled_from(["{ __typename }", "{}", "[]", "null", "{ viewer { login } }"]),
        JSON_VALUES.map(json.dumps),
        st.text(max_size=30),
    )
    return st.lists(st.tuples(names, values), max_size=5).map(urlencode)


@FUZZ
@given(data=st.data())
async def test_malformed_requests_to_graphql_answer_json_with_a_code(
    http: httpx.AsyncClient, register: Register, data: st.DataObject
) -> None:
    method = data.draw(METHODS, label="method")
    headers = {"content-type": data.draw(CONTENT_TYPES, label="content-type")}
    if data.draw(st.booleans(), label="sends accept"):
        headers["accept"] = data.draw(ACCEPT_HEADERS, label="accept")
    headers |= register.headers(data.draw(st.sampled_from(PRINCIPALS), label="principal"))
    url = f"/graphql?{data.draw(_query_string(), label='query string')}"
    body = data.draw(BODIES, label="body") if method != "GET" else b""
    response = await http.request(method, url, content=body, headers=headers)
    check_graphql_answer(response, (method, headers, body))


FORM_FIELDS = st.sampled_from(
    [
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "code",
        "redirect_uri",
        "refresh_token",
        "code_verifier",
        "client_assertion",
        "client_assertion_type",
        "token",
    ]
)
GRANT_TYPES = st.sampled_from(
    ["client_credentials", "authorization_code", "refresh_token", "password", "implicit", ""]
)


HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
BASIC_CREDENTIALS = st.one_of(
    HEADER_TEXT,
    st.tuples(st.text(max_size=20), st.text(max_size=20)).map(
        lambda pair: base64.b64encode(":".join(pair).encode()).decode()
    ),
)


@FUZZ
@given(data=st.data())
async def test_malformed_requests_to_the_token_endpoint_answer_json_with_an_error(
    http: httpx.AsyncClient, register: Register, engine: AsyncEngine, data: st.DataObject
) -> None:
    await db_baseline.restore(engine, register.tables)  # failed sign-ins are counted
    method = data.draw(METHODS, label="method")
    fields = data.draw(
        st.lists(st.tuples(FORM_FIELDS, st.one_of(GRANT_TYPES, st.text(max_size=40))), max_size=6),
        label="form",
    )
    body = data.draw(
        st.one_of(st.just(urlencode(fields).encode()), st.binary(max_size=200)), label="body"
    )
    content_type = data.draw(
        st.one_of(st.just("application/x-www-form-urlencoded"), CONTENT_TYPES), label="type"
    )
    headers = {"content-type": content_type}
    if data.draw(st.booleans(), label="basic auth"):
        headers["authorization"] = f"Basic {data.draw(BASIC_CREDENTIALS, label='credentials')}"
    response = await http.request(method, "/oauth/token", content=body, headers=headers)
    check_oauth_answer(response, (method, headers, body))
