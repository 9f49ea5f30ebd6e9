"""``hub admin``, ``hub clients``, ``hub keys`` and ``hub login``: bootstrap and keys, from a shell.

``hub admin create`` makes the first platform admin (once; later admins are invited). The other
commands act *as* a member (``--as LOGIN``) and go through the same domain rules as GraphQL:
the CLI is one more entry point, not a way around the policy.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import typer
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.keys import create_signing_key, ensure_signing_key, retire_signing_key
from hub.auth.passwords import check_password_strength, hash_secret
from hub.auth.principal import Principal
from hub.auth.principals import member_principal
from hub.db import migrate as migrations
from hub.db.engine import create_engine, session_factory
from hub.db.location import resolve_database_url
from hub.db.models import Member, MemberCredential, Provider, RoleGrant, SigningKey
from hub.domain import audit, clients, trusted_documents
from hub.domain.errors import DomainError
from hub.domain.jurisdiction import validate_prefix
from hub.secrets import key_encryption_key
from hub.settings import Settings
from hub.vocabulary import NeedCategory, ProviderKind, ProviderStatus, Role

console = Console()
admin_cli = typer.Typer(help="Bootstrap platform administrators.")
clients_cli = typer.Typer(help="Register OAuth clients.")
keys_cli = typer.Typer(help="The keys access tokens are signed with.")

T = TypeVar("T")
OPERATIONS_PROVIDER = "Hub platform operations"


@asynccontextmanager
async def _sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = resolve_database_url(settings)
    await migrations.upgrade(url)
    engine = create_engine(url, pool_size=2)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def _run(settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _sessions(settings) as sessions:
            return await work(sessions)

    try:
        return asyncio.run(main())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from exc


async def _acting(sessions: async_sessionmaker[AsyncSession], login: str) -> Principal:
    async with sessions() as session:
        principal = await member_principal(session, login)
    if principal is None:
        console.print(f"[red]{login} holds no live role in one active provider[/red]")
        raise typer.Exit(1)
    return principal


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = check_password_strength(password)
    if problem:
        console.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)
    return password


@admin_cli.command("create")
def admin_create(
    login: Annotated[str, typer.Option(help="The admin's login.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "Platform admin",
    jurisdiction: Annotated[
        list[str], typer.Option(help="Region prefix(es) the admin manages, e.g. 36.")
    ] = ["36"],  # noqa: B006 - typer reads the default
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Create the first platform admin (only while there is none)."""
    from hub.cli import settings_from_env

    settings = settings_from_env()
    prefixes = [validate_prefix(j) for j in jurisdiction]
    password = _password(password_stdin)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions.begin() as session:
            existing = await session.scalar(
                select(RoleGrant.id).where(
                    RoleGrant.role == Role.PLATFORM_ADMIN, RoleGrant.revoked_at.is_(None)
                )
            )
            if existing is not None:
                console.print("[red]a platform admin exists already; invite more from there[/red]")
                raise typer.Exit(1)
            provider = await session.scalar(
                select(Provider).where(Provider.name == OPERATIONS_PROVIDER)
            )
            if provider is None:
                provider = Provider(
                    id=uuid.uuid4(),
                    name=OPERATIONS_PROVIDER,
                    kind=ProviderKind.GOVERNMENT,
                    status=ProviderStatus.ACTIVE,
                    jurisdictions=prefixes,
                    categories=list(NeedCategory)[:0],
                )
                session.add(provider)
            member = Member(id=uuid.uuid4(), login=login.strip().lower(), display_name=name)
            session.add(member)
            await session.flush()
            session.add(
                MemberCredential(
                    member_id=member.id,
                    password_hash=await asyncio.to_thread(hash_secret, settings, password),
                )
            )
            for prefix in prefixes:
                session.add(
                    RoleGrant(
                        member_id=member.id,
                        provider_id=provider.id,
                        role=Role.PLATFORM_ADMIN,
                        jurisdiction=prefix,
                    )
                )
            audit.record(
                session,
                None,
                "admin.bootstrapped",
                "member",
                member.id,
                {"login": member.login, "jurisdictions": prefixes},
            )
        console.print(f"platform admin [bold]{login}[/bold] created for {', '.join(prefixes)}")

    _run(settings, work)


def _grant(value: str) -> tuple[Role, str]:
    role, _, where = value.partition(":")
    try:
        return Role(role), validate_prefix(where)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r}: write ROLE:REGION, e.g. government_officer:360721"
        ) from exc
    except DomainError as exc:
        raise typer.BadParameter(exc.message) from exc


@clients_cli.command("create")
def clients_create(
    acting: Annotated[str, typer.Option("--as", help="The admin login acting.")],
    provider: Annotated[str, typer.Option(help="The provider's id.")],
    name: Annotated[str, typer.Option(help="What the client is.")],
    scope: Annotated[list[str], typer.Option(help="Scopes (permissions) it may ask for.")],
    grant_type: Annotated[list[str], typer.Option(help="Grant types.")] = [  # noqa: B006
        "client_credentials"
    ],
    role: Annotated[
        list[str], typer.Option(help="ROLE:REGION it holds when acting on its own.")
    ] = [],  # noqa: B006
    redirect_uri: Annotated[list[str], typer.Option(help="For authorization_code.")] = [],  # noqa: B006
    auth_method: Annotated[str, typer.Option(help="How it authenticates.")] = "client_secret_basic",
    jwks_file: Annotated[
        Path | None, typer.Option(help="Public JWK set, for private_key_jwt.")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option(help="An external identity provider's issuer.")
    ] = None,
    jwks_uri: Annotated[str | None, typer.Option(help="Its JWKS URL.")] = None,
    audience: Annotated[str | None, typer.Option(help="The aud its tokens carry.")] = None,
) -> None:
    """Register a client (or, with --issuer, a trusted external identity provider).

    The secret is printed once; the hub keeps only its hash.
    """
    from hub.cli import settings_from_env

    settings = settings_from_env()
    data = clients.NewClient(
        provider_id=uuid.UUID(provider),
        name=name,
        auth_method="external" if issuer else auth_method,
        grant_types=() if issuer else tuple(grant_type),
        scopes=tuple(scope),
        redirect_uris=tuple(redirect_uri),
        jwks=json.loads(jwks_file.read_text()) if jwks_file else None,
        grants=tuple(_grant(value) for value in role),
        external_issuer=issuer,
        external_jwks_uri=jwks_uri,
        external_audience=audience,
    )

    async def work(sessions: async_sessionmaker[AsyncSession]) -> clients.Issued:
        principal = await _acting(sessions, acting)
        async with sessions.begin() as session:
            return await clients.register_client(session, principal, data, settings=settings)

    issued = _run(settings, work)
    console.print(f"client_id:     {issued.client.client_id}")
    if issued.client_secret:
        console.print(f"client_secret: {issued.client_secret}   (shown once)")


@clients_cli.command("trust")
def clients_trust(
    acting: Annotated[str, typer.Option("--as", help="The admin login acting.")],
    client_id: Annotated[str, typer.Option(help="The client's client_id.")],
    name: Annotated[str, typer.Option(help="What the operation is for.")],
    document: Annotated[
        Path, typer.Option(help="A file holding the exact document the client sends.")
    ],
) -> None:
    """Trust a GraphQL document for a client (see `hub clients restrict`); prints its SHA-256."""
    from hub.cli import settings_from_env
    from hub.schema.root import build_schema
    from hub.schema.trusted_documents import check_runs_here

    settings = settings_from_env()
    text = document.read_text(encoding="utf-8")

    async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
        principal = await _acting(sessions, acting)
        check_runs_here(build_schema()._schema, text)
        async with sessions.begin() as session:
            view = await trusted_documents.trust_document(
                session,
                principal,
                client_id,
                text,
                name,
                max_length=settings.max_document_length,
            )
        return view.sha256

    console.print(f"sha256: {_run(settings, work)}")


@clients_cli.command("distrust")
def clients_distrust(
    acting: Annotated[str, typer.Option("--as", help="The admin login acting.")],
    client_id: Annotated[str, typer.Option(help="The client's client_id.")],
    sha256: Annotated[str, typer.Option(help="The document's SHA-256.")],
) -> None:
    """Take a document off a client's trusted list."""
    from hub.cli import settings_from_env

    settings = settings_from_env()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        principal = await _acting(sessions, acting)
        async with sessions.begin() as session:
            await trusted_documents.distrust_document(session, principal, client_id, sha256.lower())

    _run(settings, work)
    console.print(f"{sha256.lower()} is no longer trusted for {client_id}")


@clients_cli.command("restrict")
def clients_restrict(
    acting: Annotated[str, typer.Option("--as", help="The admin login acting.")],
    client_id: Annotated[str, typer.Option(help="The client's client_id.")],
    lift: Annotated[bool, typer.Option(help="Lift the restriction instead.")] = False,
) -> None:
    """Restrict a client to its trusted documents (or, with --lift, let it run any again)."""
    from hub.cli import settings_from_env

    settings = settings_from_env()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> bool:
        principal = await _acting(sessions, acting)
        async with sessions.begin() as session:
            restriction = await trusted_documents.restrict_client(
                session, principal, client_id, restricted=not lift
            )
        return restriction.trusted_documents_only

    only = _run(settings, work)
    console.print(f"{client_id}: {'trusted documents only' if only else 'any document'}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; tokens signed by the previous keys keep working."""
    from hub.cli import settings_from_env

    settings = settings_from_env()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
        async with sessions.begin() as session:
            kid = await create_signing_key(session, key_encryption_key(settings))
            audit.record(session, None, "signing_key.created", "signing_key", kid)
            return kid

    console.print(f"new signing key {_run(settings, work)} signs from now on")


@keys_cli.command("list")
def keys_list() -> None:
    """The signing keys, newest first."""
    from hub.cli import settings_from_env

    settings = settings_from_env()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
        async with sessions.begin() as session:
            await ensure_signing_key(session, key_encryption_key(settings))
            rows = await session.execute(
                select(SigningKey.kid, SigningKey.created_at, SigningKey.retired_at).order_by(
                    SigningKey.created_at.desc()
                )
            )
            return list(rows.all())

    for kid, created, retired in _run(settings, work):
        state = f"retired {retired:%Y-%m-%d %H:%M}" if retired else "live"
        console.print(f"{kid}  created {created:%Y-%m-%d %H:%M}  {state}")


@keys_cli.command("retire")
def keys_retire(kid: str) -> None:
    """Take an old key out of the published set: the tokens it signed stop working."""
    from hub.cli import settings_from_env

    settings = settings_from_env()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> bool:
        async with sessions.begin() as session:
            done = await retire_signing_key(session, kid)
            if done:
                audit.record(session, None, "signing_key.retired", "signing_key", kid)
            return done

    if not _run(settings, work):
        console.print("[red]no such live key, or it is the one that signs now[/red]")
        raise typer.Exit(1)
    console.print(f"key {kid} retired")


def login(
    client_id: Annotated[str, typer.Option(help="The app's client_id.")],
    client_secret: Annotated[str, typer.Option(help="The app's secret.")],
    member: Annotated[str, typer.Option("--login", help="Your login.")],
    hub_url: Annotated[str, typer.Option("--hub", help="The hub's URL.")] = "http://127.0.0.1:8000",
    redirect_uri: Annotated[str, typer.Option(help="Registered for the app.")] = (
        "http://127.0.0.1:8765/callback"
    ),
    scope: Annotated[str | None, typer.Option(help="Fewer scopes than the app's.")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Sign in as a member through an app (authorization code with PKCE) and print the access
    token - what an app does with a browser, done from a terminal to try the hub."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True)
    )
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(8),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if scope:
        params["scope"] = scope
    with httpx.Client(base_url=hub_url, timeout=30) as http:
        answer = http.post(
            "/oauth/authorize",
            data={**params, "login": member, "password": password, "decision": "allow"},
        )
        location = answer.headers.get("location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if answer.status_code != 302 or not code:
            console.print(f"[red]sign-in refused ({answer.status_code})[/red]")
            raise typer.Exit(1)
        token = http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client_id, client_secret),
        )
    if token.status_code != 200:
        console.print(f"[red]{token.json().get('error_description', token.text)}[/red]")
        raise typer.Exit(1)
    print(token.json()["access_token"])


def prune() -> None:
    """Delete replay guards, revocations, codes, sign-in records and paid-off rate limits
    past their usefulness."""
    from hub.auth.maintenance import prune as prune_stale
    from hub.cli import settings_from_env

    settings = settings_from_env()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
        async with sessions.begin() as session:
            return await prune_stale(session, settings, datetime.now(UTC))

    for table, deleted in _run(settings, work).items():
        console.print(f"{table}: {deleted} deleted")
