"""The shape of a document's operations as they would run: how many selections, how deep and how
many aliases once every fragment is expanded where it is spread.

A fragment may spread another twice, that one the next twice, and so on: a document of a kilobyte
can stand for 2**40 selections. Walking the expansion (as Strawberry's depth and alias limiters
do, fragment by fragment at every spread) then takes hours before anything is refused. Here each
fragment's figures are reckoned once and reused at every spread, so the whole document is read in
time linear in its length, however large the expansion it stands for. Python's integers do not
overflow, so an expansion of 2**40 is counted exactly, then refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Introspection reads the schema in memory: as Strawberry's depth limiter does, its fields add no
# depth (they still count as selections).
_INTROSPECTION_PREFIX = "__"


@dataclass(frozen=True)
class Shape:
    selections: int  # fields, counted at every place a fragment puts them
    depth: int  # levels of nested fields, as Strawberry's QueryDepthLimiter counts them
    aliases: int  # aliased fields, counted like selections


_EMPTY = Shape(selections=0, depth=0, aliases=0)


def operation_shapes(document: DocumentNode) -> dict[OperationDefinitionNode, Shape]:
    """Each operation's expanded shape, every fragment reckoned once."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    reckoner = _Reckoner(fragments)
    return {
        definition: reckoner.selection_set(definition.selection_set)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    }


class _Reckoner:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.reckoned: dict[str, Shape] = {}
        # Fragments being reckoned: a cycle (which validation refuses anyway) counts as nothing,
        # as in Strawberry's limiters, instead of recursing for ever.
        self.open: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode | None) -> Shape:
        if selection_set is None:
            return _EMPTY
        selections = depth = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                shape = self.field(selection)
            elif isinstance(selection, InlineFragmentNode):
                shape = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                shape = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql-core knows no other selection
                continue
            selections += shape.selections
            depth = max(depth, shape.depth)
            aliases += shape.aliases
        return Shape(selections, depth, aliases)

    def field(self, node: FieldNode) -> Shape:
        inner = self.selection_set(node.selection_set)
        counts_depth = node.selection_set is not None and not node.name.value.startswith(
            _INTROSPECTION_PREFIX
        )
        return Shape(
            selections=1 + inner.selections,
            depth=1 + inner.depth if counts_depth else 0,
            aliases=inner.aliases + (1 if node.alias is not None else 0),
        )

    def fragment(self, name: str) -> Shape:
        known = self.reckoned.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:
            return _EMPTY  # unknown or cyclic: validation reports it
        self.open.add(name)
        shape = self.selection_set(fragment.selection_set)
        self.open.discard(name)
        self.reckoned[name] = shape
        return shape
