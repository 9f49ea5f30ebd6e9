"""The hub as an Apollo Federation v2 subgraph: the tags it puts on its fields, and ``_entities``.

Tags name the tiers of personal data (DESIGN rule 3), so that a gateway contract can leave a tier
out of a filtered graph entirely, e.g. a graph for business and volunteer apps without identity.
They document; they do not guard: the hub decides what each reader sees, tagged or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.domain.errors import InvalidInput

CASE_DETAIL = "case-detail"
IDENTITY = "identity"


def reference_arguments(
    representation: object, entities: Mapping[str, frozenset[str]]
) -> tuple[str, dict[str, str]]:
    """The entity type a representation names and the key arguments to resolve it with.

    ``entities`` maps each entity type to the names of its key fields. A representation carries
    exactly those (the hub declares no ``@requires``), each a string; anything else is the
    caller's mistake, refused like any other bad input.
    """
    if not isinstance(representation, dict):
        raise InvalidInput("a representation is an object", field="representations")
    fields: dict[str, Any] = dict(representation)
    type_name = fields.pop("__typename", None)
    if not isinstance(type_name, str) or type_name not in entities:
        raise InvalidInput(
            f"a representation's __typename is one of {', '.join(sorted(entities))}",
            field="representations",
        )
    keys = entities[type_name]
    if set(fields) != keys or not all(isinstance(value, str) for value in fields.values()):
        raise InvalidInput(
            f"a {type_name} representation carries {', '.join(sorted(keys))} as strings",
            field="representations",
        )
    return type_name, fields
