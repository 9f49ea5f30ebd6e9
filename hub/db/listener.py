"""One LISTEN connection per hub process, kept open: PostgreSQL's notifications on a channel,
handed to a callback.

It is a plain asyncpg connection, outside the engine's pool, because it lives as long as the
process and must not be reset or recycled. ``on_listening`` is told once LISTEN is in effect
(every notification committed from then on will arrive), and ``on_lost`` the moment the
connection is known to be gone (the server terminated it or restarted: asyncpg's termination
callback; the network failed silently: a ping goes unanswered), since notifications sent
meanwhile are gone. Then it reconnects with a growing pause.
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
        on_listening: Callable[[], None] = lambda: None,
        ping_seconds: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.on_notification = on_notification
        self.on_lost = on_lost
        self.on_listening = on_listening
        self.ping_seconds = ping_seconds
        # Set while LISTEN is in effect; health checks and tests read it.
        self.listening = asyncio.Event()
        self._listened = False

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.on_notification(payload)

    def _stopped_listening(self) -> None:
        """Said once per connection, as soon as its loss is known: a subscriber must not wait
        for the reconnection (or a close that waits on a dead socket) to hear of it."""
        if self.listening.is_set():
            self.listening.clear()
            self.on_lost()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting whenever the connection is lost."""
        pause = FIRST_PAUSE
        while True:
            failure: Exception | None = None
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: reconnect, never die
                failure = exc
            self._stopped_listening()
            if self._listened:
                # A connection that worked starts the pauses afresh.
                self._listened = False
                pause = FIRST_PAUSE
            if failure is not None:
                logger.warning(
                    "listening for events failed (%s); retrying in %.1fs", failure, pause
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "hub-events"}
        )
        lost = asyncio.Event()

        def terminated(_: Any) -> None:
            lost.set()
            self._stopped_listening()

        connection.add_termination_listener(terminated)
        try:
            await connection.add_listener(self.channel, self._notified)
            if not lost.is_set():
                self.listening.set()
                self._listened = True
                self.on_listening()
                logger.info("listening for events on %s", self.channel)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ping_seconds):
                        await lost.wait()
                if not lost.is_set():
                    # A connection that died silently (no FIN, no RST) shows only when used.
                    await connection.fetchval("SELECT 1", timeout=PING_TIMEOUT)
            logger.warning("the events connection was closed")
        finally:
            self._stopped_listening()
            with contextlib.suppress(Exception):
                await connection.close(timeout=PING_TIMEOUT)
