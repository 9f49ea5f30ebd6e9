"""``private_key_jwt`` client authentication (RFC 7523): the client signs a short-lived assertion
with its private key, and the hub checks it with the public keys registered for the client.

Only asymmetric algorithms are accepted (an assertion "signed" with HMAC, or with ``none``, is
refused), an assertion must not live longer than HUB_CLIENT_ASSERTION_MAX_LIFETIME, and each
``jti`` is accepted once: the hub records it until the assertion expires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.auth.oauth import store
from hub.auth.oauth.models import PRIVATE_KEY_JWT, ClientRecord
from hub.auth.tokens import ASYMMETRIC_ALGORITHMS

if TYPE_CHECKING:
    from hub.auth.oauth.server import OAuthContext


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, ctx: OAuthContext) -> None:
        super().__init__(validate_jti=True, leeway=ctx.settings.token_leeway)
        self.ctx = ctx

    def get_audiences(self) -> list[str]:
        issuer = self.ctx.settings.public_url
        return [issuer, f"{issuer}/oauth/token"]

    def resolve_client_public_key(self, client: ClientRecord) -> KeySet:
        return client.public_keys()

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASYMMETRIC_ALGORITHMS))
        except JoseError as exc:
            raise InvalidClientError(description="the client assertion is invalid") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: Any) -> None:
        super().verify_claims(claims)
        expires = claims["exp"]
        if expires - self.ctx.now.timestamp() > self.ctx.settings.client_assertion_max_lifetime:
            raise InvalidClientError(description="the client assertion lives too long")

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 200:
            return False
        fresh: bool = self.ctx.portal.run(
            store.remember_assertion,
            str(claims["sub"]),
            jti,
            datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
        return fresh
