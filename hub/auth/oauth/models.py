"""Snapshots of rows in the shapes authlib expects (its Client, AuthorizationCode, Token mixins).

They are plain values, read in one query on the event loop and handed to the worker thread;
nothing here touches the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from joserfc.jwk import KeySet

from hub.auth.passwords import verify_secret
from hub.settings import Settings
from hub.vocabulary import ProviderKind

SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
PRIVATE_KEY_JWT = "private_key_jwt"
AUTH_METHODS = (*sorted(SECRET_METHODS), PRIVATE_KEY_JWT)
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a registered redirect URI, or None.

    HTTPS, or http to a loopback address for native apps (RFC 8252); no userinfo, which has been
    used to smuggle another host past naive checks; no fragment (RFC 6749 3.1.2).
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "not a URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "a redirect URI must not carry userinfo"
    if parts.fragment or "#" in uri:
        return "a redirect URI must not carry a fragment"
    if not parts.hostname:
        return "a redirect URI needs a host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost"):
        return None
    return "a redirect URI must use https (or http to a loopback address)"


@dataclass(frozen=True)
class ClientRecord(ClientMixin):  # type: ignore[misc]
    pk: uuid.UUID
    client_id: str
    name: str
    provider_id: uuid.UUID
    provider_name: str
    provider_kind: ProviderKind
    auth_method: str
    secret_hash: str | None
    jwks: dict[str, Any] | None
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    settings: Settings

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # The redirect URI is always required: no guessing which one was meant.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """Every requested scope must be the client's; none requested means all of them."""
        if not scope:
            return " ".join(self.scopes)
        requested = scope.split()
        if not set(requested) <= set(self.scopes):
            return None
        return " ".join(sorted(set(requested)))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris and redirect_uri_problem(redirect_uri) is None

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(self.settings, self.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def public_keys(self) -> KeySet:
        return KeySet.import_key_set(self.jwks or {"keys": []})  # type: ignore[arg-type]


@dataclass(frozen=True)
class MemberRecord:
    id: uuid.UUID
    login: str
    auth_time: datetime

    def get_user_id(self) -> str:
        return str(self.id)


@dataclass(frozen=True)
class CodeRecord(AuthorizationCodeMixin):  # type: ignore[misc]
    id: uuid.UUID
    member_id: uuid.UUID
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    auth_time: datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class RefreshRecord(TokenMixin):  # type: ignore[misc]
    family_id: uuid.UUID
    client_pk: uuid.UUID
    member_id: uuid.UUID
    scope: str
    auth_time: datetime
    expires_at: datetime
    # False when the token was already rotated, expired or its family revoked: introspection
    # reports such a token inactive; the refresh grant never gets one.
    live: bool = True

    def check_client(self, client: ClientRecord) -> bool:
        return client.pk == self.client_pk

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return not self.live

    def is_revoked(self) -> bool:
        return not self.live


@dataclass(frozen=True)
class AccessTokenRecord(TokenMixin):  # type: ignore[misc]
    """An access token presented for revocation or introspection, its signature checked."""

    token_id: str
    client_id: str
    subject: str
    scope: str
    issued_at: int
    expires_at: int
    audience: str
    issuer: str
    family_id: uuid.UUID | None
    live: bool

    def check_client(self, client: ClientRecord) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return not self.live

    def is_revoked(self) -> bool:
        return not self.live
