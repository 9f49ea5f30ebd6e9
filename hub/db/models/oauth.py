"""OAuth 2.0 state: clients, signing keys, codes, refresh-token families and replay guards.

Every secret the hub hands out (client secrets, codes, refresh tokens) is stored only as a hash;
access tokens are signed JWTs and are not stored at all, except the ids of revoked ones.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, false
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, created_at_column, uuid_pk


class OAuthClient(Base):
    """A machine acting for one provider: a government system, an NGO app's back end.

    An external identity provider is registered as a client too (with ``external_issuer`` set):
    tokens it signs act for the client's provider with the client's grants and scopes.
    """

    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint(
            "token_endpoint_auth_method IN "
            "('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'external')",
            name="auth_method_known",
        ),
        CheckConstraint(
            "(token_endpoint_auth_method = 'private_key_jwt') = (jwks IS NOT NULL)",
            name="keys_for_private_key_jwt",
        ),
        CheckConstraint(
            "(token_endpoint_auth_method = 'external') = (external_issuer IS NOT NULL)",
            name="issuer_for_external",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # The public identifier a client presents; random, never reused.
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    # argon2 hash of the secret for the client_secret_* methods; shown once, never stored plain.
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    # Public keys (a JWK set) for private_key_jwt.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    grant_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    redirect_uris: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The most the client may ever be granted; a token's scopes are a subset.
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    external_issuer: Mapped[str | None] = mapped_column(Text, unique=True)
    external_jwks_uri: Mapped[str | None] = mapped_column(Text)
    external_audience: Mapped[str | None] = mapped_column(Text)
    created_by_member_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Restricted to the documents trusted for it (trusted_documents): a government integration
    # runs the operations it was reviewed for, and nothing else.
    trusted_documents_only: Mapped[bool] = mapped_column(Boolean, server_default=false())


class SigningKey(Base):
    """A key the hub signs access tokens with. The newest live key signs; older ones still verify.

    The private JWK is stored encrypted (a JWE with a key-encryption key that never enters the
    database), so every hub process sharing the database signs and verifies with the same keys.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_jwe: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuthorizationCode(Base):
    """A code issued to a client for a member; single-use, and short-lived."""

    __tablename__ = "authorization_codes"

    id: Mapped[uuid.UUID] = uuid_pk()
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="CASCADE")
    )
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TokenFamily(Base):
    """Everything issued from one authorization: its refresh tokens and their access tokens.

    Revoking the family (a refresh token presented twice, a code used twice, an explicit
    revocation) kills every token in it, access tokens included, on their next use.
    """

    __tablename__ = "token_families"

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    authorization_code_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("authorization_codes.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(100))


class RefreshToken(Base):
    """One refresh token of a family; used once, when it is rotated for the next one."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("token_families.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedAccessToken(Base):
    """Access tokens revoked before they expire (RFC 7009), kept until they would have."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(100), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class UsedClientAssertion(Base):
    """The jti of every client assertion seen, so that a replayed one is refused."""

    __tablename__ = "used_client_assertions"
    __table_args__ = (Index("ix_used_client_assertions_expires_at", "expires_at"),)

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
