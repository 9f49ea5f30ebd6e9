"""OAuth clients as admins see them; a new or rotated secret is shown once, in the payload."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from hub.domain.clients import ClientView, Issued
from hub.schema.members import RoleGrant


@strawberry.type(description="A machine acting for a provider, registered as an OAuth client.")
class OAuthClient:
    client_id: str
    name: str
    provider_id: relay.GlobalID
    auth_method: str
    grant_types: list[str]
    scopes: list[str]
    redirect_uris: list[str]
    created_at: datetime
    revoked_at: datetime | None
    external_issuer: str | None
    grants: list[RoleGrant]
    trusted_documents_only: bool = strawberry.field(
        description="Restricted to its trusted documents (see trustedDocuments)."
    )

    @classmethod
    def from_view(cls, view: ClientView) -> OAuthClient:
        return cls(
            client_id=view.client_id,
            name=view.name,
            provider_id=relay.GlobalID("Provider", str(view.provider_id)),
            auth_method=view.auth_method,
            grant_types=list(view.grant_types),
            scopes=list(view.scopes),
            redirect_uris=list(view.redirect_uris),
            created_at=view.created_at,
            revoked_at=view.revoked_at,
            external_issuer=view.external_issuer,
            grants=[RoleGrant.from_view(grant) for grant in view.grants],
            trusted_documents_only=view.trusted_documents_only,
        )


@strawberry.type
class ClientPayload:
    client: OAuthClient
    client_secret: str | None = strawberry.field(
        description="Shown once, now: the hub keeps only a hash. Null for private_key_jwt."
    )

    @classmethod
    def from_domain(cls, issued: Issued) -> ClientPayload:
        return cls(client=OAuthClient.from_view(issued.client), client_secret=issued.client_secret)


@strawberry.type
class RevokeClientPayload:
    client: OAuthClient
