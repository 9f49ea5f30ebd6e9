"""X-Forwarded-For names the client only when a trusted proxy sends it (HUB_TRUSTED_PROXIES).

The hub runs here as `hub serve` runs it: under uvicorn, with the options the command gives it,
on a real port. Sign-in lockouts count failures per client address, so a peer that could choose
its address would escape them, or lock others out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.auth.passwords import hash_secret
from hub.cli import uvicorn_options
from hub.db.models import MemberCredential
from hub.settings import Settings
from tests.auth import REDIRECT_URI, add_client
from tests.world import World

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two failed sign-ins per address lock it out; the per-account limits stay out of reach."""
    return dataclasses.replace(
        settings,
        port=free_port(),
        login_max_failures_per_address=2,
        login_max_failures_per_account=10,
        login_max_failures_per_account_total=10,
    )


@pytest.fixture
async def sign_in_form(engine: AsyncEngine, settings: Settings, world: World) -> dict[str, str]:
    """An NGO app's authorization request, with the sign-in of its member (a wrong password)."""
    async with engine.begin() as connection:
        await connection.execute(
            insert(MemberCredential).values(
                member_id=world.members["ngo"], password_hash=hash_secret(settings, PASSWORD)
            )
        )
    _, client_id = await add_client(
        engine,
        settings,
        world.providers["ngo"],
        scopes=("register:read",),
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT_URI,),
        secret="s3cret-for-tests-0123456789",
    )
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "register:read",
        "code_challenge": create_s256_code_challenge("v" * 50),
        "code_challenge_method": "S256",
        "login": "ngo",
        "password": "a wrong password",
        "decision": "allow",
    }


@asynccontextmanager
async def serving(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The hub under uvicorn, configured as `hub serve` configures it; its base URL."""
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_options(settings)))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await task


async def sign_ins(base: str, form: dict[str, str], forwarded_for: list[str]) -> list[int]:
    """Failed sign-ins, each claiming to be forwarded for the given address; their statuses."""
    async with httpx.AsyncClient(base_url=base) as http:
        return [
            (
                await http.post("/oauth/authorize", data=form, headers={"x-forwarded-for": client})
            ).status_code
            for client in forwarded_for
        ]


async def recorded_addresses(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT address FROM login_attempts ORDER BY id"))
        return [row[0] for row in rows]


async def test_a_peer_that_is_no_trusted_proxy_cannot_choose_its_address(
    settings: Settings, engine: AsyncEngine, sign_in_form: dict[str, str]
) -> None:
    assert settings.trusted_proxies == ()  # the default: nobody is trusted
    spoofed = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
    async with serving(settings, engine) as base:
        statuses = await sign_ins(base, sign_in_form, spoofed)
    # Each failure counts against the peer itself: locked out after two, whatever it claims.
    assert statuses == [401, 401, 429, 429]
    assert set(await recorded_addresses(engine)) == {"127.0.0.1"}


async def test_a_trusted_proxy_names_the_client(
    settings: Settings, engine: AsyncEngine, sign_in_form: dict[str, str]
) -> None:
    behind_proxy = dataclasses.replace(settings, trusted_proxies=("127.0.0.0/8",))
    async with serving(behind_proxy, engine) as base:
        # Two clients behind the proxy: each is counted apart, so one's lockout is its own.
        statuses = await sign_ins(
            base,
            sign_in_form,
            ["198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.2"],
        )
        # A client claiming an address before reaching the proxy: the proxy appends the
        # address it saw, and that one counts (the one before it is the client's claim).
        chained = await sign_ins(
            base, sign_in_form, ["198.51.100.2, 198.51.100.1", "203.0.113.9, 198.51.100.1"]
        )
    assert statuses == [401, 401, 429, 401]
    assert chained == [429, 429]
    assert (await recorded_addresses(engine))[:4] == [
        "198.51.100.1",
        "198.51.100.1",
        "198.51.100.1",
        "198.51.100.2",
    ]


# --- hub serve with several workers -----------------------------------------------------------


@contextmanager
def hub_serve(env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the hub did not become ready"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.mark.slow
async def test_hub_serve_with_workers_trusts_no_proxy_by_default(
    settings: Settings,
    engine: AsyncEngine,
    database_url: str,
    sign_in_form: dict[str, str],
    tmp_path: Path,
) -> None:
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_ID_HASH_KEY": str(settings.id_hash_key),
        "HUB_KEY_ENCRYPTION_KEY": str(settings.key_encryption_key),
        "HUB_LOGIN_MAX_FAILURES_PER_ADDRESS": "2",
        "HUB_PASSWORD_HASH_TIME_COST": "1",
        "HUB_PASSWORD_HASH_MEMORY_KIB": "8192",
        "HUB_TRUSTED_PROXIES": "",
        # uvicorn's own variable: it must not widen the trust the hub's setting gives.
        "FORWARDED_ALLOW_IPS": "*",
    }
    with hub_serve(env, settings.port) as base:
        statuses = await sign_ins(base, sign_in_form, [f"198.51.100.{n}" for n in range(3)])
    assert statuses == [401, 401, 429]
    assert set(await recorded_addresses(engine)) == {"127.0.0.1"}
