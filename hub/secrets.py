"""Secret keys the hub needs that must not live in the database (in plain form)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hub.settings import Settings

ID_HASH_KEY_FILE = "id-hash.key"
KEY_ENCRYPTION_KEY_FILE = "signing-keys.kek"


def id_hash_key(settings: Settings) -> bytes:
    """The key for hashing ID numbers: HUB_ID_HASH_KEY, else a key kept in the data directory.

    Every hub process that shares a database must use the same key, or duplicate detection
    silently stops working; set HUB_ID_HASH_KEY wherever processes do not share a data directory.
    """
    if settings.id_hash_key:
        return settings.id_hash_key.encode()
    return _file_key(Path(settings.data_dir) / ID_HASH_KEY_FILE)


def key_encryption_key(settings: Settings) -> bytes:
    """The key that encrypts the token-signing keys at rest: HUB_KEY_ENCRYPTION_KEY, else a key
    kept in the data directory.

    The signing keys themselves live in the database, so that every process signs and verifies
    with the same ones; each process needs this key to open them. Processes that do not share a
    data directory must all be given the same HUB_KEY_ENCRYPTION_KEY.
    """
    if settings.key_encryption_key:
        return settings.key_encryption_key.encode()
    return _file_key(Path(settings.data_dir) / KEY_ENCRYPTION_KEY_FILE)


def _file_key(path: Path) -> bytes:
    """A random key kept in ``path``, created (readable by the owner only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
