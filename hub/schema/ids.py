"""Opaque global IDs (Relay): base64 of "Type:key", checked for the expected type.

Used by the resolvers and by the federation entities' reference resolvers alike.
"""

from __future__ import annotations

import uuid

from strawberry.relay import GlobalID, GlobalIDValueError

from hub.domain.errors import InvalidInput


def parse_global_id(raw: str, *, field: str = "id") -> GlobalID:
    try:
        return GlobalID.from_id(raw)
    except (GlobalIDValueError, ValueError, TypeError) as exc:
        raise InvalidInput("the ID is malformed", field=field) from exc


def uuid_of(raw: str, type_name: str, *, field: str = "id") -> uuid.UUID:
    global_id = parse_global_id(raw, field=field)
    if global_id.type_name != type_name:
        raise InvalidInput(f"the ID is not a {type_name}'s ID", field=field)
    try:
        return uuid.UUID(global_id.node_id)
    except ValueError as exc:
        raise InvalidInput("the ID is malformed", field=field) from exc
