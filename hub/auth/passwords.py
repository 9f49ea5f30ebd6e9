"""Password and client-secret hashes: argon2id, memory-hard, with parameters from settings.

Verifying a hash is deliberately slow (tens of milliseconds and tens of megabytes): callers on
the event loop run it in a worker thread. At most HUB_PASSWORD_HASH_CONCURRENCY hashes run at
once in a process, the rest waiting their turn in their threads: a burst of sign-ins or client
authentications would otherwise take every core from the event loop, and a hash's memory each
(30 at once: two gigabytes).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.settings import Settings

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=1,
    )


_TURNS: dict[int, threading.BoundedSemaphore] = {}
_TURNS_LOCK = threading.Lock()


@contextmanager
def _turn(settings: Settings) -> Iterator[None]:
    """One of the process's HUB_PASSWORD_HASH_CONCURRENCY places to hash in, waited for."""
    with _TURNS_LOCK:
        turns = _TURNS.setdefault(
            settings.password_hash_concurrency,
            threading.BoundedSemaphore(settings.password_hash_concurrency),
        )
    with turns:
        yield


def hash_secret(settings: Settings, secret: str) -> str:
    with _turn(settings):
        return hasher(settings).hash(secret)


def verify_secret(settings: Settings, stored: str | None, presented: str) -> bool:
    """Whether ``presented`` matches ``stored``; a missing hash still costs one verification,
    so that timing does not tell whether an account exists."""
    against = _decoy(settings) if stored is None else stored
    try:
        with _turn(settings):
            matched = hasher(settings).verify(against, presented)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(matched) and stored is not None


_DECOYS: dict[tuple[int, int], str] = {}


def _profile(settings: Settings) -> tuple[int, int]:
    return settings.password_hash_time_cost, settings.password_hash_memory_kib


def _decoy(settings: Settings) -> str:
    profile = _profile(settings)
    if profile not in _DECOYS:
        _DECOYS[profile] = hash_secret(settings, secrets.token_urlsafe(16))
    return _DECOYS[profile]


def check_password_strength(password: str) -> str | None:
    """Why the password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password has at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) < 5:
        return "a password needs more different characters"
    return None


def new_token(nbytes: int = 32) -> str:
    """A random, URL-safe secret: client secrets, codes, refresh tokens, invitations."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """How high-entropy one-time tokens (codes, refresh tokens, invitations) are stored and looked
    up: a SHA-256 suffices because they are random, and it lets the database find them by
    index; secrets a person might choose go through argon2 instead."""
    return hashlib.sha256(token.encode()).hexdigest()
