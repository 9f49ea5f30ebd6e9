"""Password and secret hashes: each process computes at most HUB_PASSWORD_HASH_CONCURRENCY at
once, so that a burst of them cannot take every core and a hash's memory each."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from hub.auth.passwords import hash_secret, verify_secret
from hub.settings import Settings


@pytest.mark.parametrize("concurrency", [1, 3])
def test_hashes_beyond_the_concurrency_wait_their_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        password_hash_time_cost=2,
        password_hash_memory_kib=8192,
        password_hash_concurrency=concurrency,
    )
    stored = hash_secret(settings, "the right secret")
    running, most = 0, 0
    lock = threading.Lock()
    verify = PasswordHasher.verify

    def counted(self: PasswordHasher, *args: Any) -> Any:
        """argon2's own verification, counting how many run at the same moment."""
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return verify(self, *args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: verify_secret(settings, stored, f"x{n}"), range(24)))
    assert answers == [False] * 24
    assert most == concurrency
    assert verify_secret(settings, stored, "the right secret")
