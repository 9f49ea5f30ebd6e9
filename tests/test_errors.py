"""Every error has a stable code; internal errors are masked for the client and logged for us."""

from __future__ import annotations

import logging

import pytest

from hub.domain import regions
from tests.graphql import GraphQLClient
from tests.world import World


async def test_internal_errors_are_masked_and_logged(
    gql: GraphQLClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection string postgresql://secret@db")

    monkeypatch.setattr(regions, "list_regions", broken)
    with caplog.at_level(logging.ERROR, logger="hub.errors"):
        result = await gql("{ regions { edges { node { code } } } }", as_="officer")
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    error = result.errors[0]
    assert error["message"] == "Internal server error"
    assert "secret" not in repr(result.errors)
    request_id = error["extensions"]["requestId"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret" in repr(logged[0].exc_info[1])


async def test_syntax_errors_say_so(gql: GraphQLClient, world: World) -> None:
    result = await gql("{ needs { edges ", as_="officer")
    assert result.codes == ["GRAPHQL_PARSE_FAILED"]


async def test_unknown_fields_fail_validation(gql: GraphQLClient, world: World) -> None:
    result = await gql("{ needs { totalSecrets } }", as_="officer")
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_bad_variables_are_bad_user_input(gql: GraphQLClient, world: World) -> None:
    result = await gql(
        "query($n: Int!) { needs(first: $n) { edges { cursor } } }", {"n": "ten"}, as_="officer"
    )
    assert result.codes == ["BAD_USER_INPUT"]
