"""Automatic persisted queries, as Apollo clients speak them.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": H}`` without the
document. If the hub knows H it runs that document; if not it answers
``PERSISTED_QUERY_NOT_FOUND`` and the client sends the document again with the hash, which the
hub checks and keeps. Documents live in PostgreSQL (``persisted_documents``), so a document
registered through one hub process is found by all of them; each process keeps a bounded LRU
in front. Only a document that was checked against its hash, parsed and validated is kept, and
only for a signed-in caller, so that nobody fills the table with rubbish.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import PersistedDocument
from hub.domain.trusted_documents import SHA256_HEX, persist, sha256_of
from hub.protocol.errors import ProtocolError

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
# The message Apollo clients look for, besides the code.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
INVALID = "PERSISTED_QUERY_INVALID"
TOO_LARGE = "DOCUMENT_TOO_LARGE"


@dataclass(frozen=True)
class Resolved:
    """The document to run, and the hash to keep it under once it proved valid (or None)."""

    query: str | None
    register: str | None = None


class PersistedQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache_size: int) -> None:
        self.sessions = sessions
        self.cache_size = cache_size
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def find(self, sha256: str) -> str | None:
        document = self._cache.get(sha256)
        if document is not None:
            self._cache.move_to_end(sha256)
            return document
        async with self.sessions() as session:
            document = await session.scalar(
                select(PersistedDocument.document).where(PersistedDocument.sha256 == sha256)
            )
        if document is not None:
            self._remember(sha256, document)
        return document

    async def keep(self, sha256: str, document: str) -> None:
        async with self.sessions.begin() as session:
            await persist(session, sha256, document)
        self._remember(sha256, document)

    def _remember(self, sha256: str, document: str) -> None:
        if self.cache_size <= 0:
            return
        self._cache[sha256] = document
        self._cache.move_to_end(sha256)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, *, max_length: int
    ) -> Resolved:
        """The document a request asks for, by text or by hash; ProtocolError if none."""
        if query is not None and len(query) > max_length:
            raise ProtocolError(
                413,
                TOO_LARGE,
                f"the document is longer than {max_length} characters",
                json_status=413,
            )
        wanted = (extensions or {}).get("persistedQuery")
        if wanted is None:
            return Resolved(query)
        sha256 = requested_hash(wanted)
        if query is None:
            found = await self.find(sha256)
            if found is None:
                raise ProtocolError(404, NOT_FOUND, NOT_FOUND_MESSAGE, json_status=200)
            return Resolved(found)
        if sha256_of(query) != sha256:
            raise ProtocolError(
                400, HASH_MISMATCH, "the persisted query's sha256Hash is not the document's hash"
            )
        known = sha256 in self._cache
        return Resolved(query, register=None if known else sha256)


def requested_hash(wanted: object) -> str:
    """The lowercase hash a ``persistedQuery`` extension names; ProtocolError if malformed."""
    if not isinstance(wanted, dict) or wanted.get("version") != 1:
        raise ProtocolError(400, INVALID, "persistedQuery must be {version: 1, sha256Hash}")
    sha256 = wanted.get("sha256Hash")
    if not isinstance(sha256, str) or not SHA256_HEX.match(sha256.lower()):
        raise ProtocolError(400, INVALID, "sha256Hash must be 64 hexadecimal digits")
    return sha256.lower()
