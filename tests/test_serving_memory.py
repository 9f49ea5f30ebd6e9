"""A serving process keeps what it built at startup out of the garbage collector's way
(``hub.app._freeze``); an application built for anything else leaves the collector alone."""

from __future__ import annotations

import gc

from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.settings import Settings


async def test_a_served_application_freezes_what_it_built_at_startup(
    engine: AsyncEngine, settings: Settings
) -> None:
    assert gc.get_freeze_count() == 0
    try:
        async with LifespanManager(create_app(settings, engine=engine, serving=True)):
            frozen = gc.get_freeze_count()
            # Everything alive once started, the schema and the test process's own included.
            assert frozen > 10_000
            garbage = [[]]
            garbage[0].append(garbage)  # a cycle made after startup is still collected
            del garbage
            assert gc.collect() >= 1
            assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


async def test_an_application_not_served_leaves_the_collector_alone(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with LifespanManager(create_app(settings, engine=engine)):
        assert gc.get_freeze_count() == 0
