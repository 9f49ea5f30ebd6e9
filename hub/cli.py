"""The ``hub`` command: migrate, serve, and run a demo."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from hub.app import create_app
from hub.db import migrate as migrations
from hub.db.engine import UnsupportedServer, create_engine, ensure_supported_server
from hub.db.location import resolve_database_url
from hub.secrets import id_hash_key
from hub.settings import Settings
from hub.vocabulary import ProviderKind, Role

cli = typer.Typer(help="The hub: one needs register for left-behind children, over GraphQL.")
console = Console()

HostOption = Annotated[str | None, typer.Option(help="Address to listen on [HUB_HOST].")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on [HUB_PORT].")]


def _settings(**overrides: object) -> Settings:
    settings = Settings.from_env()
    given = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(settings, **given)  # type: ignore[arg-type]


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The embedded server's library narrates every command it runs; only its problems matter.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, logging.getLogger().level))


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


def _serve(settings: Settings) -> None:
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@cli.command()
def migrate() -> None:
    """Upgrade the database to the newest schema."""
    settings = _settings()
    _configure_logging(settings)
    _migrated_url(settings)
    console.print(f"database at revision {migrations.head_revision()}")


@cli.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Migrate the database if needed, then serve the API."""
    settings = _settings(host=host, port=port)
    _configure_logging(settings)
    _migrated_url(settings)
    _serve(settings)


@cli.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    children: Annotated[int, typer.Option(help="How many children to seed.")] = 3000,
) -> None:
    """Seed a demo dataset into an empty database, then serve it with GraphiQL on."""
    from hub.demo.seed import seed_demo

    env = os.environ.get("HUB_ENV", "dev")
    settings = _settings(host=host, port=port, env="dev" if env.lower() == "dev" else "prod")
    _configure_logging(settings)
    url = _migrated_url(settings)

    async def seed() -> object:
        engine = create_engine(url, pool_size=2)
        try:
            return await seed_demo(engine, id_hash_key=id_hash_key(settings), children=children)
        finally:
            await engine.dispose()

    with console.status("seeding the demo dataset"):
        summary = asyncio.run(seed())
    if summary is None:
        console.print("The database already holds data; serving it as it is.")
    else:
        _print_summary(summary, settings)
    _serve(settings)


def _print_summary(summary: object, settings: Settings) -> None:
    from hub.demo.seed import DemoSummary

    assert isinstance(summary, DemoSummary)
    endpoint = f"http://{settings.host}:{settings.port}/graphql"
    console.print(
        f"[bold]Demo data[/bold]: {summary.regions} regions, {summary.providers} providers, "
        f"{len(summary.members)} members, {summary.children} children, {summary.needs} needs."
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
    county = summary.sample_county
    # An NGO coordinator who works in the sample county, so the first query finds its needs.
    coordinator = next(
        m
        for m in summary.members
        if m.role is Role.COORDINATOR
        and m.provider_kind is ProviderKind.NGO
        and county.startswith(m.jurisdiction)
    )
    query = (
        f'{{ needs(filter: {{jurisdiction: "{county}", statuses: [OPEN]}}, first: 5) '
        "{ edges { node { id category urgency status child { code ageBand region { name } } "
        "region { code name } } } pageInfo { hasNextPage endCursor } } }"
    )
    console.print(
        f"\nGraphiQL: [link]{endpoint}[/link]  (dev mode: act as a member with the "
        f"header X-Hub-Dev-Member: <login>)"
    )
    console.print("A first query to try, as an NGO coordinator:\n")
    body = json.dumps({"query": query}, ensure_ascii=False)
    console.print(
        f"curl -s {endpoint} -H 'content-type: application/json' "
        f"-H 'X-Hub-Dev-Member: {coordinator.login}' -d '{body}'",
        soft_wrap=True,
        markup=False,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
