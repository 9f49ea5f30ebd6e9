"""The authorization server: authlib's framework-agnostic ``AuthorizationServer``, per request.

A server is built for each request around an ``OAuthContext`` (settings, the request's database
portal, the signing keys, the moment): building one is a handful of registrations, and it keeps
every hook free of shared mutable state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError
from starlette.responses import JSONResponse, Response

from hub.auth.keys import ALGORITHM, Keys
from hub.auth.oauth import store
from hub.auth.oauth.client_auth import (
    PrivateKeyJWT,
    SecretAuthentication,
    secret_in_form,
    secret_in_header,
)
from hub.auth.oauth.endpoints import Introspection, Revocation
from hub.auth.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    RequireS256,
)
from hub.auth.oauth.models import (
    AUTH_METHODS,
    GRANT_TYPES,
    AccessTokenRecord,
    ClientRecord,
    MemberRecord,
    RefreshRecord,
)
from hub.auth.oauth.portal import LookupPortal, Portal
from hub.auth.oauth.requests import HubOAuth2Request
from hub.auth.passwords import new_token, token_digest
from hub.auth.policy import ALL_SCOPES
from hub.auth.tokens import ASYMMETRIC_ALGORITHMS, TokenRejected, issue_access_token
from hub.auth.tokens import verify_access_token as verify
from hub.settings import Settings

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OAuthContext:
    settings: Settings
    # The request's transaction.
    portal: Portal
    # Reads outside it (autocommit), each returning its connection at once: the client lookup.
    lookups: LookupPortal
    keys: Keys
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, ctx: OAuthContext) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.ctx = ctx
        # The client this request authenticated, once it has: the throttle gives an attempt
        # that authenticated back what it took.
        self.authenticated_client: ClientRecord | None = None
        self.register_client_auth_method(
            "client_secret_basic", SecretAuthentication(ctx.settings, secret_in_header)
        )
        self.register_client_auth_method(
            "client_secret_post", SecretAuthentication(ctx.settings, secret_in_form)
        )
        self.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(ctx))
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [RequireS256(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # --- authlib's integration points ----------------------------------------------------------

    def authenticate_client(
        self, request: HubOAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> ClientRecord:
        """authlib's client authentication, with one answer for every failure.

        Whether the client id is unknown, the secret wrong or the assertion bad, the client
        gets the same 401: a different description would tell which client ids exist, as a
        different timing would. The reason goes to the log instead."""
        try:
            client: ClientRecord = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            logger.info("client authentication failed at %s: %s", endpoint, error.description)
            raise InvalidClientError(
                status_code=401, description="the client could not be authenticated"
            ) from error
        self.authenticated_client = client
        return client

    def query_client(self, client_id: str) -> ClientRecord | None:
        # PostgreSQL text cannot hold NUL; no client id is longer than 100 characters.
        if not isinstance(client_id, str) or len(client_id) > 100 or "\x00" in client_id:
            return None
        # Outside the transaction: the secret is hashed next, and no connection waits for it.
        found: ClientRecord | None = self.ctx.lookups.run(
            store.load_client, self.ctx.settings, client_id
        )
        return found

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Nothing to do: the grants store what they issue themselves."""

    def create_oauth2_request(self, request: HubOAuth2Request) -> HubOAuth2Request:
        return request

    def create_json_request(self, request: HubOAuth2Request) -> HubOAuth2Request:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]] | dict[str, str]
    ) -> Response:
        merged = {**dict(headers), **NO_STORE}
        if isinstance(body, dict):
            merged.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=merged)
        return Response(body or b"", status_code=status, headers=merged)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """The hub does not use authlib's signals."""

    # --- what the grants and endpoints share ---------------------------------------------------

    def issue(
        self,
        client: ClientRecord,
        scope: str,
        *,
        member: MemberRecord | None = None,
        family_id: Any = None,
        refresh: bool = False,
    ) -> dict[str, Any]:
        settings = self.ctx.settings
        lifetime = settings.access_token_ttl
        access = issue_access_token(
            self.ctx.keys.signing,
            issuer=settings.public_url,
            audience=settings.audience,
            client_id=client.client_id,
            scopes=scope.split(),
            now=int(self.ctx.now.timestamp()),
            lifetime=lifetime,
            member_id=member.id if member else None,
            family_id=family_id,
            auth_time=int(member.auth_time.timestamp()) if member else None,
        )
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope,
        }
        if refresh and family_id is not None:
            raw = new_token(32)
            self.ctx.portal.run(
                store.save_refresh_token,
                family_id,
                token_digest(raw),
                store.expiry(self.ctx.now, settings.refresh_token_ttl),
            )
            token["refresh_token"] = raw
        return token

    def find_token(self, token_string: str) -> AccessTokenRecord | RefreshRecord | None:
        """A token of the hub's, for revocation or introspection: an access token (a JWT whose
        signature checks) or a refresh token (by its hash)."""
        if not isinstance(token_string, str) or len(token_string) > 4096:
            return None
        if token_string.count(".") == 2:
            return self._access_token(token_string)
        found: RefreshRecord | None = self.ctx.portal.run(
            store.find_refresh_token, token_digest(token_string), self.ctx.now
        )
        return found

    def _access_token(self, token_string: str) -> AccessTokenRecord | None:
        settings = self.ctx.settings
        try:
            claims = verify(
                token_string,
                self.ctx.keys.verifying,
                issuer=settings.public_url,
                audience=settings.audience,
                now=int(time.time()),
                leeway=0,
            )
        except TokenRejected:
            return None
        portal = self.ctx.portal
        live = not portal.run(store.access_token_revoked, claims.token_id)
        if live and claims.family_id is not None:
            live = portal.run(store.family_is_live, claims.family_id)
        return AccessTokenRecord(
            token_id=claims.token_id,
            client_id=claims.client_id,
            subject=claims.subject,
            scope=" ".join(sorted(claims.scopes)),
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            audience=settings.audience,
            issuer=claims.issuer,
            family_id=claims.family_id,
            live=live,
        )


def server_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 metadata, served at /.well-known/oauth-authorization-server."""
    issuer = settings.public_url
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "scopes_supported": list(ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGORITHMS),
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "authorization_response_iss_parameter_supported": False,
    }
