"""Revocation (RFC 7009) and introspection (RFC 7662) of the hub's tokens.

A client may revoke or introspect only tokens issued to itself. Revoking a refresh token
revokes its whole family, access tokens included; revoking an access token records its ``jti``
until it would have expired.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from hub.auth.oauth import store
from hub.auth.oauth.models import AUTH_METHODS, AccessTokenRecord, ClientRecord, RefreshRecord
from hub.db.models import TokenFamily

if TYPE_CHECKING:
    from hub.auth.oauth.server import HubAuthorizationServer

TokenRecord = AccessTokenRecord | RefreshRecord


def check_params(request: Any) -> None:
    """A token must come; its ``token_type_hint``, whatever it says, is only a hint, and the hub
    looks a token up by its shape anyway. (RFC 7009 §2.2: "An invalid token type hint value is
    ignored by the authorization server"; authlib refused it, with a 401.)"""
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token' in request.")


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    server: HubAuthorizationServer

    def check_params(self, request: Any, client: ClientRecord) -> None:
        check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.find_token(token_string)

    def revoke_token(self, token: TokenRecord, request: Any) -> None:
        portal = self.server.ctx.portal
        if isinstance(token, AccessTokenRecord):
            expires = datetime.fromtimestamp(token.expires_at, UTC)
            portal.run(store.revoke_access_token, token.token_id, expires)
        else:
            portal.run(
                store.revoke_families, TokenFamily.id == token.family_id, "revoked by the client"
            )


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    server: HubAuthorizationServer

    def check_params(self, request: Any, client: ClientRecord) -> None:
        check_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.find_token(token_string)

    def check_permission(self, token: TokenRecord, client: ClientRecord, request: Any) -> bool:
        return bool(token.check_client(client))

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        if isinstance(token, AccessTokenRecord):
            return {
                "active": True,
                "token_type": "Bearer",
                "client_id": token.client_id,
                "scope": token.scope,
                "sub": token.subject,
                "aud": token.audience,
                "iss": token.issuer,
                "exp": token.expires_at,
                "iat": token.issued_at,
                "jti": token.token_id,
            }
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": token.scope,
            "sub": str(token.member_id),
            "exp": int(token.expires_at.timestamp()),
        }
