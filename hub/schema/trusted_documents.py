"""Trusted documents as admins see and manage them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from hub.domain.trusted_documents import Restriction, TrustedDocumentView


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
