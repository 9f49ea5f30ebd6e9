"""Trusted documents: the GraphQL operations a client may run once it is restricted to them.

A government integration is reviewed for the operations it runs. Its admins (the provider's
admins, or platform admins over the provider's jurisdictions) register those documents for the
client and mark it ``trusted_documents_only``; from then on the hub runs for that client only a
document whose SHA-256 is on its list, sent in full or by hash. Every change is audited.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.policy import Permission, may, may_everywhere
from hub.auth.principal import Principal
from hub.db.models import OAuthClient, PersistedDocument, Provider, TrustedDocument
from hub.domain import audit
from hub.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class OperationNotTrusted(DomainError):
    """A restricted client sent a document that is not among its trusted documents."""

    code = "OPERATION_NOT_TRUSTED"


def sha256_of(document: str) -> str:
    """The hash clients send for a document: SHA-256 of its exact UTF-8 text, lowercase hex."""
    # A lone surrogate (JSON lets a client send one) has no UTF-8 form: hashed as it came, the
    # document is then refused as it parses (GRAPHQL_PARSE_FAILED), not by a crash here.
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TrustedDocumentView:
    client_id: str
    sha256: str
    name: str
    document: str
    created_at: datetime


@dataclass(frozen=True)
class Restriction:
    client_id: str
    trusted_documents_only: bool


def _check_manager(principal: Principal, provider: Provider) -> None:
    """The provider's own admins, or platform admins whose reach covers the provider."""
    if not may(principal, Permission.MANAGE_TRUSTED_DOCUMENTS):
        raise Forbidden("managing trusted documents is for the client's admins")
    own = provider.id == principal.provider_id
    platform = may_everywhere(principal, Permission.MANAGE_PROVIDERS, provider.jurisdictions)
    if not (own or platform):
        raise Forbidden("managing trusted documents is for the client's admins")


async def _managed_client(
    session: AsyncSession, principal: Principal, client_id: str, *, lock: bool = False
) -> tuple[OAuthClient, Provider]:
    query = select(OAuthClient).where(OAuthClient.client_id == client_id)
    client = await session.scalar(query.with_for_update() if lock else query)
    provider = None if client is None else await session.get(Provider, client.provider_id)
    if client is None or provider is None:
        raise NotFound("no such client", field="clientId")
    try:
        _check_manager(principal, provider)
    except Forbidden as exc:
        # Outside one's reach a client is indistinguishable from no client, as elsewhere; but a
        # principal who manages no trusted documents at all is told so plainly.
        if not may(principal, Permission.MANAGE_TRUSTED_DOCUMENTS):
            raise
        raise NotFound("no such client", field="clientId") from exc
    return client, provider


def _region_of(provider: Provider) -> str | None:
    return provider.jurisdictions[0] if len(provider.jurisdictions) == 1 else None


async def persist(session: AsyncSession, sha256: str, document: str) -> None:
    """Keep a document under its hash (a no-op when it is kept already)."""
    await session.execute(
        insert(PersistedDocument)
        .values(sha256=sha256, document=document)
        .on_conflict_do_nothing(index_elements=[PersistedDocument.sha256])
    )


async def trust_document(
    session: AsyncSession,
    principal: Principal,
    client_id: str,
    document: str,
    name: str,
    *,
    sha256: str | None = None,
    max_length: int,
) -> TrustedDocumentView:
    """Trust ``document`` for the client. Trusting it again renames it; nothing else changes."""
    client, provider = await _managed_client(session, principal, client_id)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("give a name of 1 to 200 characters", field="name")
    if not document.strip():
        raise InvalidInput("give the operation's document", field="document")
    if len(document) > max_length:
        raise InvalidInput(f"the document is longer than {max_length} characters", field="document")
    digest = sha256_of(document)
    if sha256 is not None and sha256.lower() != digest:
        raise InvalidInput(
            "the SHA-256 given is not the document's: send the exact text the client sends",
            field="sha256",
        )
    await persist(session, digest, document)
    existing = await session.get(TrustedDocument, (client.id, digest), with_for_update=True)
    if existing is None:
        existing = TrustedDocument(
            oauth_client_id=client.id,
            sha256=digest,
            name=name,
            registered_by_member_id=principal.member_id,
        )
        session.add(existing)
    else:
        existing.name = name
    await session.flush()
    await session.refresh(existing)
    audit.record(
        session,
        principal,
        "client.document_trusted",
        "client",
        client.client_id,
        {"sha256": digest, "name": name},
        region_code=_region_of(provider),
    )
    return TrustedDocumentView(client.client_id, digest, name, document, existing.created_at)


async def distrust_document(
    session: AsyncSession, principal: Principal, client_id: str, sha256: str
) -> None:
    """Take a document off the client's list: a restricted client stops running it at once."""
    client, provider = await _managed_client(session, principal, client_id)
    removed = await session.execute(
        delete(TrustedDocument)
        .where(TrustedDocument.oauth_client_id == client.id, TrustedDocument.sha256 == sha256)
        .returning(TrustedDocument.sha256)
    )
    if removed.first() is None:
        raise NotFound("the document is not trusted for this client", field="sha256")
    audit.record(
        session,
        principal,
        "client.document_distrusted",
        "client",
        client.client_id,
        {"sha256": sha256},
        region_code=_region_of(provider),
    )


async def restrict_client(
    session: AsyncSession, principal: Principal, client_id: str, *, restricted: bool
) -> Restriction:
    """Restrict the client to its trusted documents (or lift the restriction)."""
    client, provider = await _managed_client(session, principal, client_id, lock=True)
    if client.revoked_at is not None:
        raise Conflict("the client is revoked")
    if client.trusted_documents_only != restricted:
        client.trusted_documents_only = restricted
        audit.record(
            session,
            principal,
            "client.restricted" if restricted else "client.unrestricted",
            "client",
            client.client_id,
            {},
            region_code=_region_of(provider),
        )
        await session.flush()
    return Restriction(client.client_id, client.trusted_documents_only)


async def trusted_documents_of(
    session: AsyncSession, principal: Principal, client_id: str
) -> tuple[Restriction, list[TrustedDocumentView]]:
    client, _ = await _managed_client(session, principal, client_id)
    rows = (
        await session.execute(
            select(TrustedDocument, PersistedDocument.document)
            .join(PersistedDocument, PersistedDocument.sha256 == TrustedDocument.sha256)
            .where(TrustedDocument.oauth_client_id == client.id)
            .order_by(TrustedDocument.name, TrustedDocument.sha256)
        )
    ).all()
    return Restriction(client.client_id, client.trusted_documents_only), [
        TrustedDocumentView(client.client_id, row.sha256, row.name, document, row.created_at)
        for row, document in rows
    ]


async def is_trusted(session: AsyncSession, client_id: str, sha256: str) -> bool:
    """Whether the client (by its public id) may run the document with this hash."""
    found = await session.scalar(
        select(TrustedDocument.sha256)
        .join(OAuthClient, OAuthClient.id == TrustedDocument.oauth_client_id)
        .where(OAuthClient.client_id == client_id, TrustedDocument.sha256 == sha256)
    )
    return found is not None


async def check_trusted(
    session: AsyncSession, principal: Principal | None, document: str | None
) -> None:
    """Refuse a document a restricted principal may not run; anyone else may run anything."""
    if principal is None or not principal.trusted_documents_only:
        return
    if principal.client_id is None or document is None:
        raise OperationNotTrusted("this client may run only its trusted documents")
    if not await is_trusted(session, principal.client_id, sha256_of(document)):
        raise OperationNotTrusted(
            "this client may run only its trusted documents, and this is not one of them"
        )
