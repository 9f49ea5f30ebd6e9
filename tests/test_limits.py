"""Operation limits at their defaults: each refuses an abusive operation with its own code and
runs nothing of it, while the operations apps really send pass (README, "Limits")."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions.validation_cache import DEFAULT_MAXSIZE, _get_validate_cache

from bench import scenarios
from hub.db.models import RateLimit
from hub.settings import Settings
from tests.graphql import GraphQLClient
from tests.world import COUNTY, World

DEFAULTS = Settings()
MISSING_NEED = "TmVlZDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDE="


async def rate_limit_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(RateLimit))).scalar())


def nested(depth: int) -> str:
    """need { child { needs { child { ... { id } } } } }: ``depth`` levels of real fields."""
    inner = "id"
    for level in range(depth - 1, 0, -1):
        inner = f"{'child' if level % 2 else 'needs'} {{ {inner} }}"
    return f'query Deep {{ need(id: "{MISSING_NEED}") {{ {inner} }} }}'


async def test_a_query_deeper_than_the_limit_is_refused(gql: GraphQLClient, world: World) -> None:
    refused = await gql(nested(DEFAULTS.max_depth + 1), as_="ngo")
    assert refused.codes == ["QUERY_TOO_DEEP"] and refused.data is None
    assert (await gql(nested(DEFAULTS.max_depth), as_="ngo")).ok() == {"need": None}


async def test_too_many_aliases_are_refused(gql: GraphQLClient, world: World) -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{n}: __typename" for n in range(count)) + " }"

    refused = await gql(aliased(DEFAULTS.max_aliases + 1), as_="ngo")
    assert refused.codes == ["TOO_MANY_ALIASES"] and refused.data is None
    assert len((await gql(aliased(DEFAULTS.max_aliases), as_="ngo")).ok()) == DEFAULTS.max_aliases


async def test_too_many_tokens_are_refused(gql: GraphQLClient, world: World) -> None:
    refused = await gql("{ " + "__typename " * DEFAULTS.max_tokens + "}", as_="ngo")
    assert refused.codes == ["TOO_MANY_TOKENS"] and refused.data is None
    assert (await gql("{ " + "__typename " * 100 + "}", as_="ngo")).ok() == {"__typename": "Query"}


async def test_a_document_over_the_length_limit_is_refused(
    gql: GraphQLClient, world: World
) -> None:
    padding = "#" + "x" * DEFAULTS.max_document_length + "\n"
    refused = await gql(padding + "{ __typename }", as_="ngo")
    assert refused.codes == ["DOCUMENT_TOO_LARGE"] and refused.data is None
    assert (await gql("#" + "x" * 1000 + "\n{ __typename }", as_="ngo")).ok()


COSTLY = """
query Costly($n: Int!) {
  first: needs(first: $n) {
    nodes { child { needs { claims { deliveries { reviewedBy { name } } } } } }
  }
  second: needs(first: $n) {
    nodes { child { needs { claims { deliveries { reviewedBy { name } } } } } }
  }
}
"""


async def test_an_operation_over_the_cost_limit_is_refused_and_spends_nothing(
    gql: GraphQLClient, world: World, engine: AsyncEngine
) -> None:
    refused = await gql(COSTLY, {"n": 100}, as_="ngo")
    assert refused.codes == ["OPERATION_TOO_COSTLY"] and refused.data is None
    extensions = refused.errors[0]["extensions"]
    assert extensions["limit"] == DEFAULTS.max_cost and extensions["cost"] > DEFAULTS.max_cost
    assert await rate_limit_rows(engine) == 0  # refused before it was charged
    # The same document with smaller pages: variables decide the cost.
    assert (await gql(COSTLY, {"n": 10}, as_="ngo")).ok() == {
        "first": {"nodes": []},
        "second": {"nodes": []},
    }
    assert await rate_limit_rows(engine) == 1


async def test_an_entities_call_costs_per_representation(gql: GraphQLClient, world: World) -> None:
    query = """
    query($r: [_Any!]!) {
      _entities(representations: $r) { ... on Region { code ancestors { code } } }
    }
    """
    many = [
        {"__typename": "Region", "code": COUNTY}
    ] * DEFAULTS.max_cost  # each costs 1 (its ancestors)
    refused = await gql(query, {"r": many}, as_="ngo")
    assert refused.codes == ["OPERATION_TOO_COSTLY"] and refused.data is None
    found = (await gql(query, {"r": many[:3]}, as_="ngo")).ok()
    assert [entity["code"] for entity in found["_entities"]] == [COUNTY] * 3


async def test_entities_selecting_only_scalars_still_cost_one_per_representation(
    gql: GraphQLClient, world: World
) -> None:
    query = """
    query($r: [_Any!]!) { _entities(representations: $r) { ... on Region { code } } }
    """
    many = [{"__typename": "Region", "code": COUNTY}] * DEFAULTS.max_cost
    refused = await gql(query, {"r": many}, as_="ngo")
    assert refused.codes == ["OPERATION_TOO_COSTLY"] and refused.data is None
    assert refused.errors[0]["extensions"]["cost"] == 1 + DEFAULTS.max_cost
    found = (await gql(query, {"r": many[:3]}, as_="ngo")).ok()
    assert found["_entities"] == [{"code": COUNTY}] * 3


async def test_a_list_of_objects_selecting_only_scalars_costs_one_per_item(
    gql: GraphQLClient, world: World
) -> None:
    """Each claim read is an object, though it selects only its id: 100 needs, 5 claims each
    (a list without a bound), cost 1 a claim, not nothing."""
    page = "needs(first: 100) { nodes { child { needs { claims { id } } } } }"
    # Per page: the connection, its nodes, and per need its child, the child's needs (1 + 5
    # needs) and each need's claims (1 + 5 claims).
    per_page = 1 + 1 + 100 * (1 + 1 + 5 * (1 + 5 * 1))
    pages = DEFAULTS.max_cost // per_page + 1
    query = "{ " + " ".join(f"p{n}: {page}" for n in range(pages)) + " }"
    refused = await gql(query, as_="ngo")
    assert refused.codes == ["OPERATION_TOO_COSTLY"]
    assert refused.errors[0]["extensions"]["cost"] == pages * per_page
    assert (await gql("{ " + page + " }", as_="ngo")).ok() == {"needs": {"nodes": []}}


async def test_the_operations_apps_send_pass_every_limit(gql: GraphQLClient, world: World) -> None:
    page = await gql(scenarios.NEEDS_PAGE, {"county": COUNTY, "after": None}, as_="ngo")
    assert page.ok()["needs"]["edges"] == []
    feed = await gql(
        scenarios.CHANGES_FEED,
        {"province": COUNTY[:2], "since": "2020-01-01T00:00:00+00:00", "after": None},
        as_="officer",
    )
    assert feed.ok()["needs"]["edges"] == []


async def test_the_limits_keep_validation_cached(gql: GraphQLClient, world: World) -> None:
    """The depth and alias rules are the same classes on every request, so a document sent
    again is validated from the cache, its limits included."""
    validate = _get_validate_cache(DEFAULT_MAXSIZE)
    query = "query CachedWithLimits { viewer { __typename } }"
    (await gql(query, as_="ngo")).ok()
    before = validate.cache_info()
    (await gql(query, as_="officer")).ok()
    after = validate.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
