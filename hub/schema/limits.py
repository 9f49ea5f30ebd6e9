"""Operation limits: no single request can exhaust the hub (README, "Limits").

Length, tokens, selections, depth and aliases are properties of the document alone, checked
while parsing (graphql-core's and Strawberry's limits) and validating (``OperationShapeRule``),
and so cached with the document like any validation result: the rule class is built once per
application, so the validation cache's key (the document and the rules) stays the same from one
request to the next. Selections, depth and aliases are counted with each fragment reckoned once
(``hub.schema.document_shape``), not walked again at every spread as Strawberry's own depth and
alias limiters do: a kilobyte of fragments spreading each other twice would keep those busy for
hours before they refused it. Cost depends on the
variables (``first: $n``) and the rate limit on who asks, so both are checked per request,
after validation, just before execution; a refused operation runs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    ValidationRule,
    VisitorAction,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.language.visitor import BREAK
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.types.graphql import OperationType

from hub.domain import rate_limits
from hub.domain.errors import DomainError
from hub.schema.cost import PageSizes, operation_cost
from hub.schema.document_shape import operation_shapes
from hub.schema.text_input import UnstorableTextRule, refuse_unstorable_variables
from hub.settings import Settings


class OperationTooCostly(DomainError):
    code = "OPERATION_TOO_COSTLY"


ExtensionFactory = Callable[[], SchemaExtension]


def limit_extensions(settings: Settings) -> list[ExtensionFactory]:
    """The limiting extensions for an application with these settings: list them before the
    parser and validation caches, so that the caches see the limits' options and rules."""
    rules: list[type[ASTValidationRule]] = [operation_shape_rule(settings), UnstorableTextRule]
    return [
        lambda: DocumentLength(settings.max_document_length),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        OperationBudget,
    ]


def operation_shape_rule(settings: Settings) -> type[ASTValidationRule]:
    """The validation rule holding each operation to the selections, depth and aliases limits."""
    max_selections, max_depth, max_aliases = (
        settings.max_selections,
        settings.max_depth,
        settings.max_aliases,
    )

    class OperationShapeRule(ValidationRule):
        """Refuses OPERATION_TOO_LARGE, QUERY_TOO_DEEP or TOO_MANY_ALIASES, with the messages
        of Strawberry's limiters for the last two (``hub.schema.errors`` knows them)."""

        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            shapes = operation_shapes(node)
            for operation, shape in shapes.items():
                name = operation.name.value if operation.name else "anonymous"
                if shape.selections > max_selections:
                    self.report_error(
                        GraphQLError(
                            f"'{name}' selects {shape.selections} fields once its fragments "
                            f"are expanded, more than the limit of {max_selections}",
                            operation,
                            extensions={
                                "code": "OPERATION_TOO_LARGE",
                                "selections": shape.selections,
                                "limit": max_selections,
                            },
                        )
                    )
                if shape.depth > max_depth:
                    self.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            operation,
                        )
                    )
            # Counted over the whole document, as Strawberry's MaxAliasesLimiter does.
            aliases = sum(shape.aliases for shape in shapes.values())
            if aliases > max_aliases:
                self.report_error(GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}"))
            return BREAK  # all is known: this rule need not visit the document's nodes

    return OperationShapeRule


def page_sizes(settings: Settings) -> PageSizes:
    return PageSizes(default=settings.default_page_size, maximum=settings.max_page_size)


async def charge(context: Any, cost: int) -> None:
    """Spend ``cost`` from the budget of the request's principal, or refuse with RATE_LIMITED
    (and, over HTTP, status 429 with Retry-After)."""
    settings: Settings = context.settings
    key = rate_limits.principal_key(context.principal, context.client_address)
    # One statement, so it needs no transaction of its own (see ``rate_limits.spend``).
    async with context.autocommit_sessions() as session:
        admission = await rate_limits.spend(session, key, cost, settings.rate_limit_cost_per_minute)
    if admission.admitted:
        return
    response = context.response
    if response is not None:
        response.status_code = 429
        response.headers["Retry-After"] = str(admission.retry_after)
    raise rate_limits.RateLimited(
        f"rate limit exceeded: {settings.rate_limit_cost_per_minute} cost per minute; "
        f"retry after {admission.retry_after} s",
        retryAfter=admission.retry_after,
        cost=cost,
        limit=settings.rate_limit_cost_per_minute,
    )


def check_cost(schema: GraphQLSchema, settings: Settings, **operation: Any) -> int:
    """The operation's cost, or OPERATION_TOO_COSTLY if it is over the limit."""
    cost = operation_cost(schema, pages=page_sizes(settings), **operation)
    if cost > settings.max_cost:
        raise OperationTooCostly(
            f"the operation costs {cost}, more than the limit of {settings.max_cost}: "
            "ask for smaller pages or fewer nested lists",
            cost=cost,
            limit=settings.max_cost,
        )
    return cost


class DocumentLength(SchemaExtension):
    """The parser refuses a document longer than this before reading any of it."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def on_operation(self) -> Iterator[None]:
        # graphql-core's own option; Strawberry's ParseOptions does not list it yet.
        self.execution_context.parse_options["max_source_length"] = self.max_length  # type: ignore[typeddict-unknown-key]
        yield


class OperationBudget(SchemaExtension):
    """Refuses an operation whose variables hold text no field can store, or that costs too
    much, then charges its cost to the rate limit: a refused operation spends nothing."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        assert execution.graphql_document is not None
        try:
            refuse_unstorable_variables(execution.variables)
            cost = check_cost(
                execution.schema._schema,
                context.settings,
                document=execution.graphql_document,
                operation_name=execution.operation_name,
                variables=execution.variables,
            )
            if not context.prepaid:
                await charge(context, cost)
        except DomainError as refusal:
            if execution.operation_type is OperationType.SUBSCRIPTION:
                raise  # the stream's one result is this error
            # Queries and mutations: this result stands in for execution, which never starts.
            execution.result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(refusal.message, original_error=refusal)]
            )
        yield
