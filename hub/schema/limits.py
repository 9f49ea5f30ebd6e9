"""Operation limits: no single request can exhaust the hub (README, "Limits").

Length, tokens, depth and aliases are properties of the document alone, checked while parsing and
validating with Strawberry's own limiters, and so cached with the document like any validation
result: the rule classes are built once per application, so the validation cache's key (the
document and the rules) stays the same from one request to the next. Cost depends on the
variables (``first: $n``) and the rate limit on who asks, so both are checked per request,
after validation, just before execution; a refused operation runs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import ASTValidationRule, GraphQLError, GraphQLSchema
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types.graphql import OperationType

from hub.domain import rate_limits
from hub.domain.errors import DomainError
from hub.schema.cost import PageSizes, operation_cost
from hub.settings import Settings


class OperationTooCostly(DomainError):
    code = "OPERATION_TOO_COSTLY"


ExtensionFactory = Callable[[], SchemaExtension]


def limit_extensions(settings: Settings) -> list[ExtensionFactory]:
    """The limiting extensions for an application with these settings: list them before the
    parser and validation caches, so that the caches see the limits' options and rules."""
    rules: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_depth, None),
        aliases_rule(settings.max_aliases),
    ]
    return [
        lambda: DocumentLength(settings.max_document_length),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        OperationBudget,
    ]


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
    """Refuses an operation that costs too much, then charges its cost to the rate limit."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        assert execution.graphql_document is not None
        try:
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
