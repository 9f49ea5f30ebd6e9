"""The ``hub`` command: migrate, serve, run a demo; bootstrap admins, clients and keys."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from hub import access_cli
from hub.app import create_app
from hub.db import migrate as migrations
from hub.db.engine import UnsupportedServer, create_engine, ensure_supported_server
from hub.db.location import resolve_database_url
from hub.logs import configure_logging, log_config
from hub.secrets import id_hash_key, key_encryption_key
from hub.serving import PortUnavailable, check_port, run_workers
from hub.settings import Settings
from hub.vocabulary import ClaimStatus

cli = typer.Typer(help="The hub: one needs register for left-behind children, over GraphQL.")
cli.add_typer(access_cli.admin_cli, name="admin")
cli.add_typer(access_cli.clients_cli, name="clients")
cli.add_typer(access_cli.keys_cli, name="keys")
cli.command("login")(access_cli.login)
cli.command("prune")(access_cli.prune)
schema_cli = typer.Typer(help="The GraphQL schema: the SDL that federation gateways compose.")
cli.add_typer(schema_cli, name="schema")
console = Console()
errors = Console(stderr=True)

HostOption = Annotated[str | None, typer.Option(help="Address to listen on [HUB_HOST].")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on [HUB_PORT].")]


def settings_from_env(**overrides: object) -> Settings:
    settings = Settings.from_env()
    given = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(settings, **given)  # type: ignore[arg-type]


def _ensure_port_free(settings: Settings) -> None:
    """Stop with a clear message, before anything is started or seeded, if the hub could not
    listen where it is told to."""
    try:
        check_port(settings.host, settings.port)
    except PortUnavailable as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(code=1) from exc


def _migrated_url(settings: Settings) -> str:
    url = resolve_database_url(settings)

    async def check_and_upgrade() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            await ensure_supported_server(engine)
        finally:
            await engine.dispose()
        await migrations.upgrade(url)

    try:
        asyncio.run(check_and_upgrade())
    except UnsupportedServer as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from exc
    return url


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every way of serving the hub tells uvicorn, one process or many.

    X-Forwarded-For names the client only when it comes from a proxy in HUB_TRUSTED_PROXIES;
    from any other peer it is ignored, and the peer is the client. (uvicorn's own default trusts
    127.0.0.1, which would let anything on the host choose its address, and so its sign-in and
    client-authentication limits.) The application reads the address only from the ASGI scope,
    where uvicorn's proxy-headers middleware puts the client it trusts."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # Every line, uvicorn's and the hub's, in the supervisor and in each worker, with its
        # time and level.
        "log_config": log_config(settings.log_level),
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }


def _serve(settings: Settings, database_url: str | None = None) -> None:
    if settings.workers == 1:
        uvicorn.run(create_app(settings, serving=True), **uvicorn_options(settings))
        return
    # Each worker process builds the application from the environment: pass on what this
    # command decided (its options, the database it migrated), and create the keys kept in the
    # data directory here, once, rather than racing to create them in every worker.
    id_hash_key(settings)
    key_encryption_key(settings)
    os.environ.update(
        {
            "HUB_HOST": settings.host,
            "HUB_PORT": str(settings.port),
            "HUB_DATABASE_URL": database_url or resolve_database_url(settings),
        }
    )
    run_workers(
        uvicorn.Config(
            "hub.app:app_from_env",
            factory=True,
            workers=settings.workers,
            **uvicorn_options(settings),
            timeout_worker_healthcheck=settings.worker_healthcheck_timeout_seconds,
        )
    )


@cli.command()
def migrate() -> None:
    """Upgrade the database to the newest schema."""
    settings = settings_from_env()
    configure_logging(settings.log_level)
    _migrated_url(settings)
    console.print(f"database at revision {migrations.head_revision()}")


@cli.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Server processes on the port, e.g. one per core [HUB_WORKERS]."
        ),
    ] = None,
) -> None:
    """Migrate the database if needed, then serve the API."""
    settings = settings_from_env(host=host, port=port, workers=workers)
    configure_logging(settings.log_level)
    _ensure_port_free(settings)
    url = _migrated_url(settings)
    _serve(settings, url)


@cli.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    children: Annotated[int, typer.Option(help="How many children to seed.")] = 3000,
) -> None:
    """Seed a demo dataset into an empty database, then serve it with GraphiQL on."""
    from hub.demo.access import seed_access
    from hub.demo.seed import seed_demo

    env = os.environ.get("HUB_ENV", "dev")
    settings = settings_from_env(
        host=host, port=port, env="dev" if env.lower() == "dev" else "prod"
    )
    configure_logging(settings.log_level)
    _ensure_port_free(settings)
    url = _migrated_url(settings)

    async def seed() -> tuple[object, object]:
        engine = create_engine(url, pool_size=2)
        try:
            summary = await seed_demo(engine, id_hash_key=id_hash_key(settings), children=children)
            if summary is None:
                return None, None
            return summary, await seed_access(engine, settings, summary.members)
        finally:
            await engine.dispose()

    with console.status("seeding the demo dataset"):
        summary, access = asyncio.run(seed())
    if summary is None:
        console.print(
            "The database already holds data; serving it as it is. (The demo's passwords and "
            "client secrets were shown when it was seeded; `hub clients create` makes new ones.)"
        )
    else:
        _print_summary(summary, access, settings)
    _serve(settings)


@schema_cli.command("export")
def export_schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the SDL to this file instead of stdout."),
    ] = None,
) -> None:
    """Print the schema's SDL, as the hub serves it at `_service { sdl }`.

    From the repository root, `hub schema export --output schema.graphql` updates the reviewed
    snapshot that the tests compare with the live schema.
    """
    from hub.schema.root import schema_sdl

    sdl = schema_sdl()
    if output is None:
        sys.stdout.write(sdl)
        return
    output.write_text(sdl, encoding="utf-8")
    console.print(f"wrote the schema to {output}")


def _print_summary(summary: object, access: object, settings: Settings) -> None:
    from hub.demo.access import DemoAccess
    from hub.demo.seed import DemoSummary

    assert isinstance(summary, DemoSummary)
    assert isinstance(access, DemoAccess)
    hub_url = settings.public_url
    endpoint = f"{hub_url}/graphql"
    console.print(
        f"[bold]Demo data[/bold]: {summary.regions} regions, {summary.providers} providers, "
        f"{len(summary.members)} members, {summary.children} children, {summary.needs} needs."
    )
    console.print(
        f"Every demo member's password is [bold]{access.password}[/bold]; the secrets below "
        "are shown once (the hub keeps only hashes).\n"
    )
    # No jurisdiction filter: each role sees the needs of its own area, in its own tier.
    query = (
        "{ viewer { login clientId } needs(filter: {statuses: [OPEN]}, first: 3) "
        "{ edges { node { category urgency description region { name } "
        'child { code ageBand school identity(purpose: "demo") { fullName } } } } } }'
    )
    body = json.dumps({"query": query}, ensure_ascii=False)
    ask = (
        f"curl -s {endpoint} -H 'content-type: application/json' "
        f"-H \"Authorization: Bearer $TOKEN\" -d '{body}'"
    )
    table = Table("login", "role", "jurisdiction", "provider", "kind")
    table.columns[0].no_wrap = True
    for member in summary.members:
        table.add_row(
            member.login,
            member.role.value,
            member.jurisdiction,
            member.provider_name,
            member.provider_kind.value,
        )
    console.print(table)
    if summary.claims:
        counts = dict(summary.claims)
        states = ", ".join(
            f"{counts[status.value]} {status.value}"
            for status in ClaimStatus
            if counts.get(status.value)
        )
        console.print(
            f"[bold]Coordination[/bold] in Ganzhou (3607): claims {states}; deliveries logged, "
            "verified and disputed; one child reached twice with the same kind of help."
        )
    console.print("\n[bold]Get a token as a member[/bold] (the app of their provider signs in):")
    for member in summary.members:
        app = access.apps[member.provider_id]
        console.print(
            f"TOKEN=$(echo '{access.password}' | hub login --hub {hub_url} "
            f"--client-id {app.client_id} --client-secret {app.client_secret} "
            f"--login {member.login} --password-stdin)   # {member.role.value}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    console.print("\n[bold]Get a token as a machine client[/bold] (client_credentials):")
    for machine in access.machines:
        console.print(
            f"TOKEN=$(curl -s -u {machine.client_id}:{machine.client_secret} "
            f"-d grant_type=client_credentials {hub_url}/oauth/token "
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
            f"   # {machine.provider_kind.value}, {machine.role.value if machine.role else ''}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    console.print(
        "\n[bold]Then ask[/bold] - the same query answers differently by role "
        "(identity only for officials; case detail only where allowed):\n"
    )
    console.print(ask, soft_wrap=True, markup=False, highlight=False)
    if summary.claims:
        claims_query = (
            '{ claims(first: 20, filter: {jurisdiction: "3607"}) { nodes { status overdue '
            "expiresAt quantity provider { name } need { category status remainingQuantity } "
            "deliveries { status } } } overlaps { category claims { provider { name } } } "
            "accountability { provider { name } claimsMade fulfilled expired neverDelivered } }"
        )
        body = json.dumps({"query": claims_query}, ensure_ascii=False)
        console.print(
            "\n[bold]Claims in every state[/bold], as the city's civil-affairs officer sees them "
            "(a token as officer.ganzhou):\n"
        )
        console.print(
            f"curl -s {endpoint} -H 'content-type: application/json' "
            f"-H \"Authorization: Bearer $TOKEN\" -d '{body}'",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    console.print(f"\nGraphiQL: [link]{endpoint}[/link]")


def main() -> None:
    # Python's own answer to SIGTERM (from systemd, `docker stop`, Kubernetes) ends the process
    # on the spot, without its exit handlers: the embedded PostgreSQL, which the last process
    # using it stops from one, kept running. Taken like Ctrl+C instead, it stops the hub the same
    # orderly way (uvicorn's graceful shutdown while serving, an interrupt before that).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    cli()


if __name__ == "__main__":
    main()
