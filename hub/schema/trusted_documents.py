"""Trusted documents as admins see and manage them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError, GraphQLSchema, parse, validate

from hub.domain.errors import InvalidInput
from hub.domain.trusted_documents import Restriction, TrustedDocumentView


def check_runs_here(schema: GraphQLSchema, document: str) -> None:
    """A document to trust must be one the hub can run: it parses and validates."""
    try:
        parsed = parse(document)
    except GraphQLError as exc:
        raise InvalidInput(f"the document does not parse: {exc.message}", field="document") from exc
    problems = validate(schema, parsed)
    if problems:
        raise InvalidInput(
            f"the document is not valid here: {problems[0].message}", field="document"
        )


@strawberry.type(description="An operation a client may run once restricted to its trusted ones.")
class TrustedDocument:
    client_id: str
    sha256: str = strawberry.field(description="SHA-256 of the document's exact text, hex.")
    name: str
    document: str
    created_at: datetime

    @classmethod
    def from_view(cls, view: TrustedDocumentView) -> TrustedDocument:
        return cls(
            client_id=view.client_id,
            sha256=view.sha256,
            name=view.name,
            document=view.document,
            created_at=view.created_at,
        )


@strawberry.type
class TrustedDocuments:
    client_id: str
    trusted_documents_only: bool = strawberry.field(
        description="Whether the client may run these documents and nothing else."
    )
    documents: list[TrustedDocument]


@strawberry.type
class ClientRestrictionPayload:
    client_id: str
    trusted_documents_only: bool

    @classmethod
    def from_domain(cls, restriction: Restriction) -> ClientRestrictionPayload:
        return cls(
            client_id=restriction.client_id,
            trusted_documents_only=restriction.trusted_documents_only,
        )


@strawberry.type
class TrustedDocumentPayload:
    document: TrustedDocument


@strawberry.type
class DistrustDocumentPayload:
    client_id: str
    sha256: str


@strawberry.input(description="A document a client may run, as the client sends it.")
class TrustDocumentInput:
    client_id: str
    name: str = strawberry.field(description="What the operation is for.")
    document: str = strawberry.field(
        description="The exact text the client sends: its SHA-256 is what is trusted."
    )
    sha256: str | None = strawberry.field(
        default=None, description="If given, checked against the document's hash."
    )
