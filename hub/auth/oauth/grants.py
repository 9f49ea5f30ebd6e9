"""The grants the hub supports, as authlib subclasses wired to the hub's store.

- ``client_credentials``: a machine acting for its provider.
- ``authorization_code`` with PKCE (S256 only, always required): an app acting for a member.
- ``refresh_token``: rotates on every use; a rotated token presented again kills its family.

Each grant's ``create_token_response`` is the hub's own: it starts the token family before the
access token is signed, so the token can name its family (``sid``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge

from hub.auth.oauth import store
from hub.auth.oauth.models import (
    AUTH_METHODS,
    ClientRecord,
    CodeRecord,
    MemberRecord,
    RefreshRecord,
)
from hub.auth.passwords import token_digest

if TYPE_CHECKING:
    from hub.auth.oauth.server import HubAuthorizationServer

Response = tuple[int, dict[str, Any], list[tuple[str, str]]]


class RequireS256(CodeChallenge):  # type: ignore[misc]
    """PKCE on every authorization: a challenge must come, and with method S256, never plain."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("only code_challenge_method=S256 is accepted")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    server: HubAuthorizationServer

    def create_token_response(self) -> Response:
        client: ClientRecord = self.request.client
        scope = client.get_allowed_scope(self.request.payload.scope)
        if scope is None:
            raise InvalidScopeError("the client may not ask for that scope")
        token = self.server.issue(client, scope)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    server: HubAuthorizationServer

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx = self.server.ctx
        data = request.payload.data
        ctx.portal.run(
            store.save_code,
            code_hash=token_digest(code),
            client_pk=request.client.pk,
            member=request.user,
            redirect_uri=data["redirect_uri"],
            scope=request.scope,
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            expires_at=store.expiry(ctx.now, ctx.settings.authorization_code_ttl),
        )

    def query_authorization_code(self, code: str, client: ClientRecord) -> CodeRecord | None:
        ctx = self.server.ctx
        found: CodeRecord | None = ctx.portal.run(
            store.consume_code, token_digest(code), client.pk, ctx.now
        )
        return found

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing to do: the code was used up when it was looked up."""

    def authenticate_user(self, authorization_code: CodeRecord) -> MemberRecord | None:
        client: ClientRecord = self.request.client
        found: MemberRecord | None = self.server.ctx.portal.run(
            store.member_of_provider,
            authorization_code.member_id,
            client.provider_id,
            authorization_code.auth_time,
        )
        return found

    def create_token_response(self) -> Response:
        client: ClientRecord = self.request.client
        code: CodeRecord = self.request.authorization_code
        member = self.authenticate_user(code)
        if member is None:
            raise InvalidGrantError("the member no longer acts for the client's provider")
        family_id = self.server.ctx.portal.run(
            store.start_family,
            client_pk=client.pk,
            member_id=member.id,
            code_id=code.id,
            scope=code.scope,
            auth_time=member.auth_time,
        )
        token = self.server.issue(
            client,
            code.scope,
            member=member,
            family_id=family_id,
            refresh=client.check_grant_type("refresh_token"),
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: HubAuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        ctx = self.server.ctx
        found: RefreshRecord | None = ctx.portal.run(
            store.rotate_refresh_token, token_digest(refresh_token), ctx.now
        )
        return found

    def authenticate_user(self, refresh_token: RefreshRecord) -> MemberRecord | None:
        client: ClientRecord = self.request.client
        found: MemberRecord | None = self.server.ctx.portal.run(
            store.member_of_provider,
            refresh_token.member_id,
            client.provider_id,
            refresh_token.auth_time,
        )
        return found

    def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
        """Nothing to do: the token was rotated when it was looked up."""

    def create_token_response(self) -> Response:
        client: ClientRecord = self.request.client
        refresh: RefreshRecord = self.request.refresh_token
        member = self.authenticate_user(refresh)
        if member is None:
            raise InvalidGrantError("the member no longer acts for the client's provider")
        requested = self.request.payload.scope or refresh.scope
        # The client's registration may have been narrowed since: never hand out more than now.
        scope = " ".join(sorted(set(requested.split()) & set(client.scopes)))
        token = self.server.issue(
            client, scope, member=member, family_id=refresh.family_id, refresh=True
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER
