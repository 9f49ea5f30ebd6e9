"""A school's homework-support service that joins the hub's graph as a federation subgraph.

It adds to the hub's entities what the school knows and the hub does not:

- ``Child.homework``: the subjects the child gets help with, from which tutor, how many hours a
  week. The school files its plans under the child's register code (the pseudonymous code the
  village child director gives the school), so the field ``@requires`` the code: the gateway
  asks the hub for it first, under the hub's rules, and hands it over with the reference.
- ``Need.tutoringSessions``: the sessions the school has given towards a need, filed under the
  need's global ID, each with the place it was held: a ``Region`` reference, by code, that the
  gateway resolves at the hub (with the caller's token, like everything else it asks the hub).

It has no root field of its own: it never lists or finds children. It answers only for the
references the gateway brings, and the gateway brings only what the hub resolved for the caller.
It also checks the caller's token (forwarded by the gateway) against the hub's signing keys, so
that a caller who reaches the service directly without a hub token gets nothing either. (It
accepts the hub's own tokens only: a service whose callers sign in at an identity provider the
hub trusts must check those tokens against that provider's keys too, as the hub does.)

Run it next to the hub (see the README's "Joining as a subgraph")::

    HOMEWORK_HUB_ISSUER=http://127.0.0.1:8000 uvicorn homework:create_app --factory \
        --app-dir examples/homework --port 4001

Settings (environment):

HOMEWORK_HUB_ISSUER     the hub's public URL, the ``iss`` of its tokens (required)
HOMEWORK_HUB_AUDIENCE   the ``aud`` tokens must carry (default: ISSUER/graphql)
HOMEWORK_HUB_JWKS_URL   where the hub publishes its keys (default: ISSUER/.well-known/jwks.json)
HOMEWORK_DATA           the school's records, JSON (default: sample-data.json beside this file)
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import strawberry
from graphql import GraphQLError
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.types import Info

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    issuer: str
    audience: str
    jwks_url: str
    data_path: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        issuer = (env.get("HOMEWORK_HUB_ISSUER") or "").rstrip("/")
        if not issuer:
            raise SystemExit("set HOMEWORK_HUB_ISSUER to the hub's public URL")
        return cls(
            issuer=issuer,
            audience=env.get("HOMEWORK_HUB_AUDIENCE") or f"{issuer}/graphql",
            jwks_url=env.get("HOMEWORK_HUB_JWKS_URL") or f"{issuer}/.well-known/jwks.json",
            data_path=Path(env.get("HOMEWORK_DATA") or HERE / "sample-data.json"),
        )


# --- the school's records ---------------------------------------------------------------------


@strawberry.type(description="Help with one subject: who tutors the child, and how much.")
class HomeworkPlan:
    subject: str
    tutor: str
    weekly_hours: float


@strawberry.federation.type(keys=[Key(fields=FieldSet("code"), resolvable=False)])
class Region:
    """The hub's region, named here only by code: the hub knows the rest."""

    code: str


@strawberry.type(description="One tutoring session given towards a need.")
class TutoringSession:
    date: date
    hours: float
    tutor: str
    topic: str
    place: Region | None = strawberry.field(description="Where it was held.")


@dataclass(frozen=True)
class Records:
    plans_by_code: dict[str, list[HomeworkPlan]] = field(default_factory=dict)
    sessions_by_need: dict[str, list[TutoringSession]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Records:
        if not path.exists():
            return cls()
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            plans_by_code={
                code: [
                    HomeworkPlan(
                        subject=plan["subject"],
                        tutor=plan["tutor"],
                        weekly_hours=float(plan["weeklyHours"]),
                    )
                    for plan in plans
                ]
                for code, plans in raw.get("homework", {}).items()
            },
            sessions_by_need={
                need_id: [
                    TutoringSession(
                        date=date.fromisoformat(session["date"]),
                        hours=float(session["hours"]),
                        tutor=session["tutor"],
                        topic=session["topic"],
                        place=Region(code=session["place"]) if session.get("place") else None,
                    )
                    for session in sessions
                ]
                for need_id, sessions in raw.get("tutoringSessions", {}).items()
            },
        )


# --- who is asking -----------------------------------------------------------------------------


class HubKeys:
    """The hub's public keys, fetched when first needed and again when a token names a new one."""

    REFRESH_AT_MOST_EVERY = 30.0

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.keys: KeySet | None = None
        self.fetched_at = 0.0

    async def verify(self, token: str) -> dict[str, Any] | None:
        """The token's claims if the hub signed it for this graph and it is current; else None."""
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError):
            return None
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            return None
        keys = await self._keys_with(str(header.get("kid", "")))
        if keys is None:
            return None
        try:
            decoded = jwt.decode(token, keys, algorithms=["ES256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.settings.issuer},
                aud={"essential": True, "value": self.settings.audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except JoseError:
            return None
        return dict(decoded.claims)

    async def _keys_with(self, kid: str) -> KeySet | None:
        known = self.keys is not None and any(key.kid == kid for key in self.keys.keys)
        stale = time.monotonic() - self.fetched_at > self.REFRESH_AT_MOST_EVERY
        if not known and stale:
            try:
                response = await self.http.get(self.settings.jwks_url, timeout=5)
                response.raise_for_status()
                self.keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError):
                return None
            finally:
                self.fetched_at = time.monotonic()
        return self.keys


@dataclass
class Context:
    records: Records
    claims: dict[str, Any] | None

    def require_caller(self) -> None:
        if self.claims is None:
            raise GraphQLError(
                "a valid access token from the hub is required",
                extensions={"code": "UNAUTHENTICATED"},
            )


# --- the hub's entities, extended --------------------------------------------------------------


@strawberry.federation.type(keys=["id"])
class Child:
    id: strawberry.ID
    code: str = strawberry.federation.field(external=True)

    @strawberry.federation.field(
        requires=["code"],
        description="The child's homework support at this school; empty when it gives none.",
    )
    def homework(self, info: Info[Context, None]) -> list[HomeworkPlan]:
        return info.context.records.plans_by_code.get(self.code, [])

    @classmethod
    def resolve_reference(
        cls, info: Info[Context, None], id: strawberry.ID, code: str | None = None
    ) -> Child:
        info.context.require_caller()
        # Only ``homework`` needs the code, and the gateway sends it whenever homework is asked.
        return cls(id=id, code=code or "")


@strawberry.federation.type(keys=["id"])
class Need:
    id: strawberry.ID

    @strawberry.field(description="The tutoring sessions given towards this need, oldest first.")
    def tutoring_sessions(self, info: Info[Context, None]) -> list[TutoringSession]:
        sessions = info.context.records.sessions_by_need.get(str(self.id), [])
        return sorted(sessions, key=lambda session: session.date)

    @classmethod
    def resolve_reference(cls, info: Info[Context, None], id: strawberry.ID) -> Need:
        info.context.require_caller()
        return cls(id=id)


# ``_service { sdl }`` stays open: the gateway composes from it before anyone signs in.
schema = strawberry.federation.Schema(types=[Child, Need], federation_version="2.7")


class HomeworkGraphQL(GraphQL[Context, None]):
    def __init__(self, records: Records, keys: HubKeys) -> None:
        super().__init__(schema, graphql_ide=None)
        self.records = records
        self.keys = keys

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        claims = None
        if scheme.lower() == "bearer" and token.strip():
            claims = await self.keys.verify(token.strip())
        return Context(records=self.records, claims=claims)


def create_app(
    settings: Settings | None = None, http: httpx.AsyncClient | None = None
) -> Starlette:
    """The service; with no arguments (``uvicorn --factory``), configured from the environment."""
    settings = settings or Settings.from_env()
    client = http or httpx.AsyncClient()
    graphql = HomeworkGraphQL(Records.load(settings.data_path), HubKeys(settings, client))

    async def healthz(request: Request) -> Response:
        return Response('{"status": "ok"}', media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if http is None:  # a client given by the caller is the caller's to close
            await client.aclose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
