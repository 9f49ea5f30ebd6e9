"""One LISTEN connection per hub process, kept open: PostgreSQL's notifications on a channel,
handed to a callback.

It is a plain asyncpg connection, outside the engine's pool, because it lives as long as the
process and must not be reset or recycled. When it drops (the server restarts, the network
fails, a ping goes unanswered), ``on_lost`` is told, since notifications sent meanwhile are gone,
and it reconnects with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

PING_SECONDS = 15.0
PING_TIMEOUT = 5.0
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 30.0


def listen_dsn(engine_url: str) -> str:
    """The engine's URL as asyncpg takes it (without SQLAlchemy's driver name)."""
    return make_url(engine_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notification: Callable[[str], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.on_notification = on_notification
        self.on_lost = on_lost
        # Set while LISTEN is in effect; tests and health checks wait on it.
        self.listening = asyncio.Event()

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.on_notification(payload)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the connection is lost."""
        pause = FIRST_PAUSE
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: reconnect, never die
                logger.warning("listening for events failed (%s); retrying in %.1fs", exc, pause)
            if self.listening.is_set():
                self.listening.clear()
                self.on_lost()
                pause = FIRST_PAUSE
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "hub-events"}
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(self.channel, self._notified)
            self.listening.set()
            logger.info("listening for events on %s", self.channel)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(PING_SECONDS):
                        await lost.wait()
                if not lost.is_set():
                    # A connection that died silently (no FIN, no RST) shows only when used.
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT)
            logger.warning("the events connection was closed")
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=PING_TIMEOUT)
