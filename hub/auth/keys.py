"""The keys the hub signs access tokens with, and the public set it verifies them with.

Keys live in the database, their private halves encrypted (a JWE, ``dir`` + A256GCM) with a
key-encryption key that never enters it (see ``hub.secrets.key_encryption_key``). That way any
number of hub processes share one set of keys without sharing files. The newest live key signs;
every live key verifies, so ``hub keys rotate`` adds a key without breaking the tokens signed by
the previous one. A retired key leaves the published set, and the tokens it signed stop working.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass

from joserfc import jwe
from joserfc.jwk import ECKey, KeySet, OctKey
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import SigningKey
from hub.domain.clock import utcnow

ALGORITHM = "ES256"
CURVE = "P-256"
# Only one process at a time creates the first key, so that a fleet starting together agrees.
_FIRST_KEY_LOCK = int.from_bytes(b"hubkeys!", "big")


def wrapping_key(key_encryption_key: bytes) -> OctKey:
    """A 256-bit AES key derived from the configured key-encryption key, whatever its length."""
    return OctKey.import_key(hashlib.sha256(key_encryption_key).digest())


def _seal(private: ECKey, kek: OctKey) -> str:
    plaintext = json.dumps(private.as_dict(private=True))
    return jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, plaintext, kek)


def _open(sealed: str, kek: OctKey) -> ECKey:
    data = json.loads(jwe.decrypt_compact(sealed, kek).plaintext or b"{}")
    return ECKey.import_key(data)


async def create_signing_key(session: AsyncSession, key_encryption_key: bytes) -> str:
    """Add a new signing key; it signs from now on. Returns its key id."""
    key = ECKey.generate_key(CURVE, auto_kid=True)
    kid = str(key.kid)
    public = key.as_dict(private=False)
    public.update({"use": "sig", "alg": ALGORITHM})
    session.add(
        SigningKey(
            kid=kid,
            alg=ALGORITHM,
            public_jwk=public,
            private_jwe=_seal(key, wrapping_key(key_encryption_key)),
        )
    )
    await session.flush()
    return kid


async def ensure_signing_key(session: AsyncSession, key_encryption_key: bytes) -> None:
    """Create the first signing key if there is none yet (once, however many processes start)."""
    await session.execute(select(func.pg_advisory_xact_lock(_FIRST_KEY_LOCK)))
    live = await session.scalar(
        select(func.count()).select_from(SigningKey).where(SigningKey.retired_at.is_(None))
    )
    if not live:
        await create_signing_key(session, key_encryption_key)


async def retire_signing_key(session: AsyncSession, kid: str) -> bool:
    """Take a key out of the published set; the newest live key can't be retired."""
    newest = await session.scalar(
        select(SigningKey.kid)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    if newest is None or newest == kid:
        return False
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.kid == kid, SigningKey.retired_at.is_(None))
        .values(retired_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class Keys:
    signing: ECKey
    verifying: KeySet
    published: dict[str, object]

    def knows(self, kid: str | None) -> bool:
        return kid is not None and any(key.kid == kid for key in self.verifying.keys)


class KeyRing:
    """The live keys, read from the database and kept for a short while in each process.

    A token with a key id this process has not seen yet triggers one early reload (at most once
    a second), so a key another process just created verifies at once.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        key_encryption_key: bytes,
        *,
        refresh_seconds: int,
    ) -> None:
        self._sessions = sessions
        self._kek_bytes = key_encryption_key
        self._kek = wrapping_key(key_encryption_key)
        self._refresh = refresh_seconds
        self._keys: Keys | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self, *, unknown_kid: str | None = None) -> Keys:
        if self._needs_reload(unknown_kid):
            async with self._lock:
                if self._needs_reload(unknown_kid):
                    self._keys = await self._load()
                    self._loaded_at = time.monotonic()
        assert self._keys is not None
        return self._keys

    def _needs_reload(self, unknown_kid: str | None) -> bool:
        if self._keys is None:
            return True
        age = time.monotonic() - self._loaded_at
        if age > self._refresh:
            return True
        return unknown_kid is not None and not self._keys.knows(unknown_kid) and age > 1.0

    async def _live_rows(self) -> list[SigningKey]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.created_at.desc(), SigningKey.kid)
            )
            return list(rows.all())

    def forget(self) -> None:
        """Drop the cache: the next use reads the keys again (after a rotation, in tests)."""
        self._keys = None

    async def _load(self) -> Keys:
        rows = await self._live_rows()
        if not rows:  # a database that was down (or empty) when the process started
            async with self._sessions.begin() as session:
                await ensure_signing_key(session, self._kek_bytes)
            rows = await self._live_rows()
        public = [ECKey.import_key(row.public_jwk) for row in rows]

        return Keys(
            signing=_open(rows[0].private_jwe, self._kek),
            verifying=KeySet(list(public)),
            published={"keys": [row.public_jwk for row in rows]},
        )
