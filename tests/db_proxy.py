"""A TCP proxy of a test's own between the hub and PostgreSQL, to misbehave on cue.

``forward()`` passes bytes both ways; ``stall()`` keeps accepting connections and reading from
both sides but passes nothing on (a server that hangs, or a network that drops packets without
a word); ``refuse()`` refuses new connections and cuts the open ones (a server that is down);
``cut_at(text)`` does that the moment a client sends ``text`` (lost in the middle of a
request, at the statement that mentions it); ``turn_away(sqlstate, message)`` cuts the open
connections and answers new ones with that error, as a server starting up does (57P03,
"cannot connect now") or one out of connection slots (53300, "too many connections");
``lag_closes(seconds)`` passes what the server sends at once but the end of a connection it
closes only that much later, as a proxy or a busy network may (the client then holds, for that
long, a connection whose server has said goodbye).
It never touches the server behind it, which other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.engine import make_url

from tests.processes import free_port


class DatabaseProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        """``target_host`` may be a directory: the server's Unix socket in it (the embedded
        server listens only there)."""
        self.target = (target_host, target_port)
        self.port = free_port()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._cut_at: bytes | None = None
        self._turn_away: bytes | None = None
        self._close_lag = 0.0

    def url_for(self, database_url: str) -> str:
        """``database_url`` with the proxy in place of the server."""
        url = make_url(database_url).difference_update_query(["host"])
        return url.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def forward(self) -> None:
        self._turn_away: bytes | None = None
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def stall(self) -> None:
        self._flowing.clear()

    def cut_at(self, text: bytes) -> None:
        self._cut_at = text

    def lag_closes(self, seconds: float) -> None:
        self._close_lag = seconds

    async def turn_away(self, sqlstate: str, message: str) -> None:
        await self.refuse()
        await self.forward()
        self._turn_away = f"SFATAL\0VFATAL\0C{sqlstate}\0M{message}\0\0".encode()

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        await self.refuse()
        for pipe in list(self._pipes):
            pipe.cancel()
        self._flowing.set()

    async def _accept(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self._writers.add(client)
        if self._turn_away is not None:
            await _turn_away(client_in, client, self._turn_away)
            return
        host, port = self.target
        try:
            if host.startswith("/"):
                server_in, server = await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
            else:
                server_in, server = await asyncio.open_connection(host, port)
        except OSError:
            client.transport.abort()
            return
        self._writers.add(server)
        for reader, writer, upstream in ((client_in, server, True), (server_in, client, False)):
            pipe = asyncio.create_task(self._pipe(reader, writer, upstream))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()  # stalled: read, hold, pass nothing on
                if upstream and self._cut_at is not None and self._cut_at in data:
                    await self.refuse()
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                if not upstream and self._close_lag:
                    await asyncio.sleep(self._close_lag)  # the server closed: say so late
            finally:
                self._writers.discard(writer)
                writer.transport.abort()


# PostgreSQL's wire protocol: the requests a client may send before its startup message (TLS,
# GSSAPI encryption), which a server without them declines with "N".
_ENCRYPTION_REQUESTS = {80877103, 80877104}


async def _turn_away(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: bytes
) -> None:
    """Read the client's startup message and answer it with ``error`` (an ErrorResponse's
    fields), as PostgreSQL refuses a connection it cannot take."""
    try:
        while True:
            length = int.from_bytes(await reader.readexactly(4), "big")
            body = await reader.readexactly(length - 4)
            if length == 8 and int.from_bytes(body[:4], "big") in _ENCRYPTION_REQUESTS:
                writer.write(b"N")
                await writer.drain()
                continue
            break
        writer.write(b"E" + (len(error) + 4).to_bytes(4, "big") + error)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def proxied(database_url: str) -> AsyncIterator[tuple[DatabaseProxy, str]]:
    """A forwarding proxy to the server of ``database_url``, and the URL through it."""
    target = make_url(database_url)
    socket_dir = target.query.get("host")
    host = socket_dir if isinstance(socket_dir, str) else target.host or "127.0.0.1"
    proxy = DatabaseProxy(host, target.port or 5432)
    await proxy.forward()
    try:
        yield proxy, proxy.url_for(database_url)
    finally:
        await proxy.close()
