"""What a schema change does to those who rely on the schema: clients, gateways, other subgraphs.

graphql-core finds the changes that break clients (a field removed, a type changed) and the
dangerous ones (an argument's default changed, an enum value added). Federation adds its own:
a subgraph that extends ``Child`` by its ``@key`` stops resolving when the key goes; a field made
``@inaccessible`` disappears from the gateway's API; a field no longer ``@shareable`` no longer
composes with a subgraph that resolves it too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    DirectiveNode,
    GraphQLError,
    ObjectTypeDefinitionNode,
    StringValueNode,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    parse,
)

UPDATE_COMMAND = "hub schema export --output schema.graphql"


@dataclass(frozen=True)
class SchemaChanges:
    breaking: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)


def compare(old_sdl: str, new_sdl: str) -> SchemaChanges:
    # The SDL applies federation directives it does not define; nothing here needs them defined.
    old, new = (
        build_schema(old_sdl, assume_valid_sdl=True),
        build_schema(new_sdl, assume_valid_sdl=True),
    )
    breaking = [f"{c.type.name}: {c.description}" for c in find_breaking_changes(old, new)]
    dangerous = [f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)]
    old_marks, new_marks = _federation_marks(old_sdl), _federation_marks(new_sdl)
    for mark in sorted(old_marks - new_marks):
        place, directive = mark
        if directive.startswith("@key"):
            breaking.append(
                f"KEY_REMOVED: {place} lost {directive}; subgraphs that extend it by that key "
                "can no longer resolve it."
            )
        elif directive == "@shareable":
            dangerous.append(
                f"SHAREABLE_REMOVED: {place} is no longer @shareable; a subgraph that resolves it "
                "too will no longer compose."
            )
    for mark in sorted(new_marks - old_marks):
        place, directive = mark
        if directive == "@inaccessible":
            breaking.append(
                f"MADE_INACCESSIBLE: {place} is now @inaccessible and leaves the gateway's API."
            )
    return SchemaChanges(breaking=breaking, dangerous=dangerous)


def _federation_marks(sdl: str) -> set[tuple[str, str]]:
    """(type or Type.field, directive) for the federation directives whose loss matters."""
    marks: set[tuple[str, str]] = set()
    for definition in parse(sdl).definitions:
        if not isinstance(definition, ObjectTypeDefinitionNode):
            continue
        type_name = definition.name.value
        for directive in definition.directives or ():
            marks.update((type_name, mark) for mark in _marks_of(directive))
        for field_node in definition.fields or ():
            place = f"{type_name}.{field_node.name.value}"
            for directive in field_node.directives or ():
                marks.update((place, mark) for mark in _marks_of(directive))
    return marks


def _marks_of(directive: DirectiveNode) -> Iterator[str]:
    name = directive.name.value
    if name == "key":
        for argument in directive.arguments or ():
            if argument.name.value == "fields" and isinstance(argument.value, StringValueNode):
                yield f'@key(fields: "{argument.value.value}")'
    elif name in ("shareable", "inaccessible"):
        yield f"@{name}"


def report(old_sdl: str, new_sdl: str, *, snapshot_name: str = "schema.graphql") -> str:
    """A reviewer's account of a difference between the snapshot and the live schema."""
    lines = [f"The schema the hub serves differs from {snapshot_name}."]
    try:
        changes = compare(old_sdl, new_sdl)
    except GraphQLError as error:  # e.g. a snapshot edited by hand, or a merge left in it
        changes = SchemaChanges(breaking=[f"{snapshot_name} could not be read: {error.message}"])
    if changes.breaking:
        lines.append(
            "BREAKING changes (clients, gateways or other subgraphs relying on these fail):"
        )
        lines.extend(f"  - {change}" for change in changes.breaking)
    else:
        lines.append("No breaking changes.")
    if changes.dangerous:
        lines.append("Dangerous changes (may change what existing clients get):")
        lines.extend(f"  - {change}" for change in changes.dangerous)
    diff = list(
        difflib.unified_diff(
            old_sdl.splitlines(),
            new_sdl.splitlines(),
            fromfile=snapshot_name,
            tofile="live schema",
            lineterm="",
            n=1,
        )
    )
    shown = 60
    lines.append("Difference:")
    lines.extend(f"  {line}" for line in diff[:shown])
    if len(diff) > shown:
        lines.append(f"  ... {len(diff) - shown} more lines")
    lines.append(
        f"If the change is intended, update the snapshot and review its diff: {UPDATE_COMMAND}"
    )
    return "\n".join(lines)
