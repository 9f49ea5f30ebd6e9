"""A query asks the database once per child which of its needs the reader's provider holds.

Needs, children, claims and deliveries each decide what the reader sees from that answer (the
child's case detail by whether it claims the child at all, the text of each need and of the
claims and deliveries on it by whether it holds that need: ``hub.domain.disclosure``); in a
query, which writes nothing, the answer cannot change between them. Mutations and subscriptions
ask afresh every time: a mutation may make the very claim, a subscription lives on.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from hub.domain.disclosure import holdings_memo


class ClaimantMemo(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        if self.execution_context.operation_type is OperationType.QUERY:
            with holdings_memo():
                yield
        else:
            yield
