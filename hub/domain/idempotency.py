"""Idempotency keys: a retried create returns the first result instead of creating twice.

The key is claimed with an INSERT .. ON CONFLICT DO NOTHING inside the mutation's own
transaction. A concurrent retry blocks on the unique index until the first transaction ends, then
finds the committed row; if the first transaction rolled back, the retry proceeds as new. This
holds across any number of hub processes because PostgreSQL, not Python, decides.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.db import raw
from hub.db.models import IdempotencyKey
from hub.domain.errors import DomainError, InvalidInput


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"


@dataclass(frozen=True)
class Replay:
    """The first request with this key already happened; this is what it produced."""

    result_id: str


def request_fingerprint(operation: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps([operation, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def actor_key(principal: Principal) -> str:
    who = principal.client_id or str(principal.member_id)
    return f"{principal.provider_id}:{who}"


# Built once: the values come with each execution. A plain statement on the session's
# connection (no ORM unit of work): it reads nothing that pending objects could change.
_RESERVE = (
    insert(IdempotencyKey)
    .on_conflict_do_nothing(index_elements=["actor", "key"])
    .returning(IdempotencyKey.key)
)


async def claim_key(
    session: AsyncSession,
    principal: Principal,
    key: str,
    operation: str,
    payload: dict[str, Any],
    *,
    result_id: uuid.UUID | str | None = None,
) -> Replay | None:
    """Reserve ``key`` for this request, or return what its first use produced.

    ``result_id``: what this request will make, when it knows in advance (a claim's id): the
    key is then recorded with it at once, and ``remember_result`` is not needed. It commits
    only with what it names (the same transaction); a request that ends without making it
    frees the key with ``forget_key(..., result_id=...)``."""
    if not key or len(key) > 200:
        raise InvalidInput("an idempotency key has 1 to 200 characters", field="idempotencyKey")
    fingerprint = request_fingerprint(operation, payload)
    actor = actor_key(principal)
    inserted = await raw.rows(
        await session.connection(),
        _RESERVE,
        {
            "actor": actor,
            "key": key,
            "operation": operation,
            "fingerprint": fingerprint,
            "result_id": None if result_id is None else str(result_id),
        },
    )
    if inserted:
        return None
    existing = (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.actor == actor, IdempotencyKey.key == key)
        )
    ).scalar_one()
    if existing.fingerprint != fingerprint or existing.result_id is None:
        raise IdempotencyKeyReused(
            "this idempotency key was already used for a different request",
            operation=existing.operation,
        )
    return Replay(result_id=existing.result_id)


async def remember_result(
    session: AsyncSession, principal: Principal, key: str, result_id: uuid.UUID | str
) -> None:
    """Record what the key's first request made, in one statement (the key is this
    transaction's own: ``claim_key`` reserved it)."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.actor == actor_key(principal), IdempotencyKey.key == key)
        .values(result_id=str(result_id))
    )


async def forget_key(
    session: AsyncSession,
    principal: Principal,
    key: str,
    *,
    result_id: uuid.UUID | str | None = None,
) -> None:
    """Free a key this transaction reserved, for a request that ended without changing anything
    (such as a claim that lost its race): a retry with the key is then a new attempt.
    ``result_id``: the one it was reserved with, if any (``claim_key``)."""
    reserved = (
        IdempotencyKey.result_id.is_(None)
        if result_id is None
        else IdempotencyKey.result_id == str(result_id)
    )
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.actor == actor_key(principal), IdempotencyKey.key == key, reserved
        )
    )
