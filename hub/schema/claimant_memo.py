"""A query asks the database once per child whether the reader's provider actively claims it.

Needs, children and claims each decide the reader's tier from that answer (DESIGN rule 3); in a
query, which writes nothing, the answer cannot change between them. Mutations and subscriptions
ask afresh every time: a mutation may make the very claim, a subscription lives on.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from hub.domain.visibility import claimant_memo


class ClaimantMemo(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        if self.execution_context.operation_type is OperationType.QUERY:
            with claimant_memo():
                yield
        else:
            yield
