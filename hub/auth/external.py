"""Trusted external identity providers: a province's own OAuth server signs tokens the hub takes.

Each is registered as a client of the provider it acts for (issuer, JWKS URL, audience), so its
tokens carry that client's live roles, narrowed by the client's and the token's scopes. Its
public keys are fetched from the JWKS URL and kept for a while; a key id not seen yet triggers
one early fetch, so the provider can rotate its keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

JwksFetcher = Callable[[str], Awaitable[dict[str, Any]]]
FETCH_TIMEOUT = 5.0


async def fetch_jwks(uri: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client:
        response = await client.get(uri, headers={"accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    if not isinstance(data, dict):
        raise ValueError("a JWKS document is a JSON object")
    return data


class ExternalKeys:
    def __init__(self, fetch: JwksFetcher, *, refresh_seconds: int) -> None:
        self._fetch = fetch
        self._refresh = refresh_seconds
        self._cache: dict[str, tuple[float, KeySet]] = {}
        self._lock = asyncio.Lock()

    async def keys(self, jwks_uri: str, kid: str | None) -> KeySet:
        cached = self._cache.get(jwks_uri)
        if cached is not None and not self._stale(cached, kid):
            return cached[1]
        async with self._lock:
            cached = self._cache.get(jwks_uri)
            if cached is None or self._stale(cached, kid):
                try:
                    key_set = KeySet.import_key_set(await self._fetch(jwks_uri))  # type: ignore[arg-type]
                except (httpx.HTTPError, ValueError, JoseError, KeyError):
                    if cached is not None:
                        return cached[1]  # keep using the last good keys while it is down
                    raise
                cached = (time.monotonic(), key_set)
                self._cache[jwks_uri] = cached
        return cached[1]

    def _stale(self, cached: tuple[float, KeySet], kid: str | None) -> bool:
        age = time.monotonic() - cached[0]
        if age > self._refresh:
            return True
        known = any(key.kid == kid for key in cached[1].keys)
        return kid is not None and not known and age > 10.0
