"""Documents that stand for far more than they say: fragments spreading each other twice, level
after level. Each is refused with a stable code at once, before anything walks the expansion,
over GET, POST and the WebSocket, without a token (README, "Limits")."""

from __future__ import annotations

import json
import time

import httpx
from starlette.applications import Starlette

from hub.settings import Settings
from tests.auth import Tokens
from tests.events_client import served, subscribed
from tests.world import World

DEFAULTS = Settings()
# Refusing a bomb reads its 1.6 kB once (about 15 ms of CPU); walking its 2**40 spreads would
# take days, and walking even 2**30 of them minutes. The bound only tells the two apart: it is
# no speed target (those are measured in bench/), and it is wide because a thread's CPU time
# too grows when the suite's other processes crowd the machine's caches (0.36 s was seen).
AT_ONCE = 1.0


def doubling(
    levels: int, *, on: str = "Query", base: str = "__typename", root: str = "query"
) -> str:
    """``fragment Fn on Query { ...Fn-1 ...Fn-1 }``, ``levels`` deep: 2**levels copies of
    ``base`` in a document of a few dozen bytes a level."""
    fragments = [f"fragment F0 on {on} {{ {base} }}"]
    fragments += [
        f"fragment F{n} on {on} {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, levels + 1)
    ]
    return f"{root} Bomb {{ ...F{levels} }}\n" + "\n".join(fragments)


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


async def timed(request: object) -> tuple[httpx.Response, float]:
    """The response, and the CPU time this thread spent getting it: the application runs in
    it, in process. Not the wall-clock time, which on a shared machine under load (the suite's
    other processes among them) also counts the waits for a core."""
    started = time.thread_time()
    response = await request  # type: ignore[misc]
    return response, time.thread_time() - started


async def test_a_fragment_bomb_is_refused_at_once_over_post_and_get(
    http: httpx.AsyncClient, world: World
) -> None:
    bomb = doubling(40)
    assert len(bomb) < 2000
    posted, post_seconds = await timed(http.post("/graphql", json={"query": bomb}))
    assert codes(posted) == ["OPERATION_TOO_LARGE"] and posted.json().get("data") is None
    extensions = posted.json()["errors"][0]["extensions"]
    assert extensions["selections"] == 2**40 and extensions["limit"] == DEFAULTS.max_selections
    # A slightly different document, so that no cache answers for it.
    got, get_seconds = await timed(http.get("/graphql", params={"query": doubling(39)}))
    assert codes(got) == ["OPERATION_TOO_LARGE"]
    assert post_seconds < AT_ONCE and get_seconds < AT_ONCE, (post_seconds, get_seconds)


async def test_every_shape_of_fan_out_is_refused_at_once(
    http: httpx.AsyncClient, world: World
) -> None:
    fanned_aliases = doubling(40).replace("{ ...F", "{ a: __typename ...F")
    inline = "query Bomb { ...F40 }\n" + "\n".join(
        ["fragment F0 on Query { __typename }"]
        + [
            f"fragment F{n} on Query {{ ... on Query {{ ...F{n - 1} }} ... {{ ...F{n - 1} }} }}"
            for n in range(1, 41)
        ]
    )
    nested = doubling(40, on="Viewer").replace(
        "query Bomb { ...F40 }", "query Bomb { viewer { ...F40 } }"
    )
    side_by_side = "query Bomb { " + "...F30 " * 200 + "}\n" + doubling(30).split("\n", 1)[1]
    for name, document, expected in (
        ("aliases", fanned_aliases, ["OPERATION_TOO_LARGE", "TOO_MANY_ALIASES"]),
        ("inline", inline, ["OPERATION_TOO_LARGE"]),
        ("nested", nested, ["OPERATION_TOO_LARGE"]),
        ("side by side", side_by_side, ["OPERATION_TOO_LARGE"]),
    ):
        refused, seconds = await timed(http.post("/graphql", json={"query": document}))
        assert codes(refused) == expected, name
        assert seconds < AT_ONCE, (name, seconds)


async def test_depth_and_aliases_through_fragments_are_counted_at_every_spread(
    http: httpx.AsyncClient, world: World
) -> None:
    """Counted once per fragment, they are still counted as the operation would run."""
    aliases = doubling(5, base="a: __typename")  # 32 aliases, in one fragment's text
    assert codes(await http.post("/graphql", json={"query": aliases})) == ["TOO_MANY_ALIASES"]
    under = doubling(4, base="a: __typename")  # 16
    assert (await http.post("/graphql", json={"query": under})).json()["data"] == {"a": "Query"}

    # Depth through a chain of fragments, each one level of fields deeper.
    def chain(levels: int) -> str:
        fragments = ["fragment P0 on Region { code }"] + [
            f"fragment P{n} on Region {{ parent {{ ...P{n - 1} }} }}" for n in range(1, levels + 1)
        ]
        return f'query Deep {{ region(code: "36") {{ ...P{levels} }} }}\n' + "\n".join(fragments)

    too_deep = chain(DEFAULTS.max_depth)  # region, then 12 parents
    assert codes(await http.post("/graphql", json={"query": too_deep})) == ["QUERY_TOO_DEEP"]
    deep_enough = chain(DEFAULTS.max_depth - 1)
    # Within every limit, it runs: here it needs a token, like any read of the register.
    assert codes(await http.post("/graphql", json={"query": deep_enough})) == ["UNAUTHENTICATED"]


async def test_a_subscription_bomb_is_refused_at_once_over_the_websocket(
    app: Starlette, tokens: Tokens, world: World
) -> None:
    bomb = doubling(40, on="Subscription", base="needEvents { kind }", root="subscription")
    token = await tokens.member("ngo")
    async with served(app) as hub, subscribed(hub, token) as stream:
        started = time.perf_counter()
        await stream.connection.send(
            json.dumps({"id": "2", "type": "subscribe", "payload": {"query": bomb}})
        )
        assert await stream.ended_with() == ["OPERATION_TOO_LARGE"]
        # A generous bound: the round trip through a real server on a loaded machine took up
        # to 0.4 s here, the walk of 2**40 spreads would take days.
        assert time.perf_counter() - started < 2.0
