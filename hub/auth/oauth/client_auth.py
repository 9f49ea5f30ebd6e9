"""How clients authenticate at the token, revocation and introspection endpoints.

``client_secret_basic`` and ``client_secret_post``: the secret is checked against its argon2
hash. A client id the hub does not know is checked against a decoy hash of the same parameters,
so that it costs, and takes, what a wrong secret does: timing does not tell which ids exist.

``private_key_jwt`` (RFC 7523): the client signs a short-lived assertion with its private key,
and the hub checks it with the public keys registered for the client. Only a client registered
for this method is looked at; only asymmetric algorithms are accepted (an assertion "signed"
with HMAC, or with ``none``, is refused), an assertion must not live longer than
HUB_CLIENT_ASSERTION_MAX_LIFETIME, and each ``jti`` is accepted once: the hub records it until
the assertion expires.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.auth.oauth import store
from hub.auth.oauth.credentials import basic_credentials
from hub.auth.oauth.models import PRIVATE_KEY_JWT, ClientRecord
from hub.auth.oauth.requests import HubOAuth2Request
from hub.auth.passwords import verify_secret
from hub.auth.tokens import ASYMMETRIC_ALGORITHMS
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.auth.oauth.server import OAuthContext

QueryClient = Callable[[str], ClientRecord | None]
ReadSecret = Callable[[HubOAuth2Request], tuple[str, str] | None]


def secret_in_header(request: HubOAuth2Request) -> tuple[str, str] | None:
    return basic_credentials(request.headers)


def secret_in_form(request: HubOAuth2Request) -> tuple[str, str] | None:
    form = request.form
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


class SecretAuthentication:
    """``client_secret_basic`` or ``client_secret_post``, as authlib calls a method: the client,
    or None when this method does not authenticate it."""

    def __init__(self, settings: Settings, read: ReadSecret) -> None:
        self.settings = settings
        self.read = read

    def __call__(self, query_client: QueryClient, request: HubOAuth2Request) -> ClientRecord | None:
        presented = self.read(request)
        if presented is None:
            return None
        client_id, secret = presented
        if not client_id or not secret:
            return None
        client = query_client(client_id)
        # Unknown, or without a secret: verified against the decoy all the same (see above).
        stored = client.secret_hash if client is not None else None
        if not verify_secret(self.settings, stored, secret):
            return None
        return client


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, ctx: OAuthContext) -> None:
        super().__init__(validate_jti=True, leeway=ctx.settings.token_leeway)
        self.ctx = ctx

    def get_audiences(self) -> list[str]:
        issuer = self.ctx.settings.public_url
        return [issuer, f"{issuer}/oauth/token"]

    def resolve_client_public_key(self, client: ClientRecord) -> KeySet:
        # A client that authenticates otherwise has no keys to check an assertion with.
        if client.auth_method != PRIVATE_KEY_JWT:
            raise InvalidClientError(description="the client does not use private_key_jwt")
        try:
            return client.public_keys()
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidClientError(description="the client has no usable public keys") from exc

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASYMMETRIC_ALGORITHMS))
        except JoseError as exc:
            raise InvalidClientError(description="the client assertion is invalid") from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        # Checked here, before the jti is recorded: authlib validates the claims' types, then
        # asks for the jti. An assertion living too long (or "forever", past what a date can
        # hold) is refused without leaving a row that would outlive it.
        lifetime = claims["exp"] - self.ctx.now.timestamp()
        if not lifetime <= self.ctx.settings.client_assertion_max_lifetime:  # also NaN
            raise InvalidClientError(description="the client assertion lives too long")
        if not isinstance(jti, str) or not jti or len(jti) > 200 or "\x00" in jti:
            return False
        fresh: bool = self.ctx.portal.run(
            store.remember_assertion,
            str(claims["sub"]),
            jti,
            datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
        return fresh
