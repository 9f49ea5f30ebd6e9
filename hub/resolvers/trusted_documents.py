"""Trust documents for a client, take them back, restrict the client to them, list them."""

from __future__ import annotations

from hub.domain import trusted_documents
from hub.schema.context import Info
from hub.schema.trusted_documents import (
    ClientRestrictionPayload,
    DistrustDocumentPayload,
    TrustDocumentInput,
    TrustedDocument,
    TrustedDocumentPayload,
    TrustedDocuments,
    check_runs_here,
)


async def trust_document(info: Info, input: TrustDocumentInput) -> TrustedDocumentPayload:
    principal = info.context.require_principal()
    settings = info.context.settings
    if len(input.document) <= settings.max_document_length:
        check_runs_here(info.schema._schema, input.document)
    async with info.context.sessions.begin() as session:
        view = await trusted_documents.trust_document(
            session,
            principal,
            input.client_id,
            input.document,
            input.name,
            sha256=input.sha256,
            max_length=settings.max_document_length,
        )
    return TrustedDocumentPayload(document=TrustedDocument.from_view(view))


async def distrust_document(info: Info, client_id: str, sha256: str) -> DistrustDocumentPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        await trusted_documents.distrust_document(session, principal, client_id, sha256.lower())
    return DistrustDocumentPayload(client_id=client_id, sha256=sha256.lower())


async def restrict_client(
    info: Info, client_id: str, trusted_documents_only: bool
) -> ClientRestrictionPayload:
    principal = info.context.require_principal()
    async with info.context.sessions.begin() as session:
        restriction = await trusted_documents.restrict_client(
            session, principal, client_id, restricted=trusted_documents_only
        )
    return ClientRestrictionPayload.from_domain(restriction)


async def resolve_trusted_documents(info: Info, client_id: str) -> TrustedDocuments:
    principal = info.context.require_principal()
    async with info.context.sessions() as session:
        restriction, views = await trusted_documents.trusted_documents_of(
            session, principal, client_id
        )
    return TrustedDocuments(
        client_id=restriction.client_id,
        trusted_documents_only=restriction.trusted_documents_only,
        documents=[TrustedDocument.from_view(view) for view in views],
    )
