"""Viewer: who the hub thinks is asking, and with which roles."""

from __future__ import annotations

import strawberry

from hub.schema.providers import Provider
from hub.vocabulary import Role


@strawberry.type(description="One role held, within one jurisdiction (a region-code prefix).")
class Grant:
    role: Role
    jurisdiction: str


@strawberry.type(description="The principal behind this request.")
class Viewer:
    login: str | None
    client_id: str | None
    provider: Provider | None
    grants: list[Grant]
