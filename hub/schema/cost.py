"""What an operation costs: an estimate of the objects it can make the hub read, before it runs.

The model is GitHub's and Shopify's: every field that returns an object costs 1, a scalar costs
nothing, and what a list selects is paid once per item it can hold, at least 1 per item (an
item is an object read even when it selects only scalars). A connection holds
``first`` (or ``last``) items, or the default page size, never more than the maximum page size;
``_entities`` holds as many as the representations sent; a list without a bound is assumed to
hold ``ASSUMED_LIST_SIZE``. A mutation's root field costs ``MUTATION_COST``, since it writes.

Arguments may come from variables (``first: $n``), so the cost is computed per request, on a
validated document, with the request's variables. Fragments are expanded and every branch of
an abstract type is counted, which overestimates rather than under; each fragment's cost is
reckoned once per place it can stand in, so the count takes time linear in the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from graphql.language import ValueNode

MUTATION_COST = 10
ASSUMED_LIST_SIZE = 5
# Introspection reads the schema in memory, never the database: each of its fields counts once.
_INTROSPECTION_PREFIX = "__"
_PAGE_ARGUMENTS = ("first", "last")
_PAGE_LISTS = ("edges", "nodes")


@dataclass(frozen=True)
class PageSizes:
    default: int
    maximum: int


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    pages: PageSizes,
) -> int:
    """The cost of the operation that a request runs (0 if the document names none of it)."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    counter = _Counter(schema, fragments, dict(variables or {}), pages)
    base = MUTATION_COST if operation.operation is OperationType.MUTATION else 1
    return counter.selection_cost(operation.selection_set, root, page=None, root_base=base)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        pages: PageSizes,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.pages = pages
        self.fragment_costs: dict[tuple[str, str | None, int | None, int | None], int] = {}
        self.flat_costs: dict[str, int] = {}
        self.open: set[tuple[str, str | None, int | None, int | None]] = set()

    def selection_cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        *,
        page: int | None,
        root_base: int | None = None,
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent, page=page, root_base=root_base)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self._type(selection.type_condition.name.value, parent)
                total += self.selection_cost(
                    selection.selection_set, target, page=page, root_base=root_base
                )
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_cost(selection.name.value, parent, page, root_base)
        return total

    def _fragment_cost(
        self, name: str, parent: Any, page: int | None, root_base: int | None
    ) -> int:
        """A fragment's cost where it is spread, reckoned once for each place it can stand in
        (its parent type, page and root): walked again at every spread, fragments spreading
        each other twice would take time exponential in their number."""
        key = (name, getattr(parent, "name", None), page, root_base)
        known = self.fragment_costs.get(key)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or key in self.open:
            return 0  # unknown or cyclic: validation refused it already
        self.open.add(key)
        target = self._type(fragment.type_condition.name.value, parent)
        cost = self.selection_cost(fragment.selection_set, target, page=page, root_base=root_base)
        self.open.discard(key)
        self.fragment_costs[key] = cost
        return cost

    def field_cost(
        self, node: FieldNode, parent: Any, *, page: int | None, root_base: int | None
    ) -> int:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name)
        if name.startswith(_INTROSPECTION_PREFIX) or definition is None:
            # Introspection, or a field of a type this model cannot see (already validated).
            return self._flat_cost(node.selection_set)
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        base = root_base if root_base is not None else 1
        inner_page = self._page_size(node) if self._is_connection(node, named) else None
        children = self.selection_cost(node.selection_set, named, page=inner_page)
        if not _is_list(definition.type):
            return base + children
        # Each item of a list is an object read, whatever it selects: a list of objects that
        # select only scalars (40,000 ``_entities`` representations asking for a code) costs
        # at least one per item, not nothing.
        return base + self._list_size(node, page) * max(1, children)

    def _list_size(self, node: FieldNode, page: int | None) -> int:
        if node.name.value == "_entities":
            return max(1, self._length(_argument(node, "representations")))
        if page is not None and node.name.value in _PAGE_LISTS:
            return page
        if any(_argument(node, name) is not None for name in _PAGE_ARGUMENTS):
            return self._page_size(node)
        return ASSUMED_LIST_SIZE

    def _is_connection(self, node: FieldNode, named: Any) -> bool:
        fields = getattr(named, "fields", {})
        return isinstance(named, GraphQLObjectType) and "edges" in fields and "pageInfo" in fields

    def _page_size(self, node: FieldNode) -> int:
        for name in _PAGE_ARGUMENTS:
            value = self._value(_argument(node, name))
            if isinstance(value, int) and not isinstance(value, bool):
                return max(0, min(value, self.pages.maximum))
        return self.pages.default

    def _flat_cost(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 1
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                total += self._flat_fragment_cost(selection.name.value)
                continue
            inner = getattr(selection, "selection_set", None)
            total += self._flat_cost(inner) if inner is not None else 0
        return total

    def _flat_fragment_cost(self, name: str) -> int:
        known = self.flat_costs.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0
        self.flat_costs[name] = 0  # a cycle (refused by validation) counts nothing
        cost = self.flat_costs[name] = self._flat_cost(fragment.selection_set)
        return cost

    def _type(self, name: str, parent: Any) -> Any:
        return self.schema.get_type(name) or parent

    def _value(self, node: ValueNode | None) -> Any:
        if node is None:
            return None
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        return None

    def _length(self, node: ValueNode | None) -> int:
        value = self._value(node)
        return len(value) if isinstance(value, list) else 1


def _is_list(field_type: Any) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    return next((a.value for a in node.arguments or () if a.name.value == name), None)
