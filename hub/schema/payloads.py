"""What mutations return: the record as it now stands, for the caller to see."""

from __future__ import annotations

import strawberry

from hub.schema.children import Child
from hub.schema.needs import Need
from hub.schema.providers import Provider


@strawberry.type
class ChildPayload:
    child: Child


@strawberry.type
class NeedPayload:
    need: Need


@strawberry.type
class ProviderPayload:
    provider: Provider
