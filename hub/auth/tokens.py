"""Access tokens: short-lived JWTs (RFC 9068) that the hub signs and checks.

A token says who (``sub``: a member's id, or the client's id for a machine), through which
client (``client_id``), for what (``scope``), and, for a member, from which authorization
(``sid``: the token family, so revoking the family kills its access tokens too). It carries no
roles: those are read live from the database on every request.

Checking is strict and fails closed: the algorithm must be on the allow-list (asymmetric only, so
``none`` and an HMAC keyed with a public key are refused before any key is touched), ``typ``
must be ``at+jwt``, the key id must name a live key, and ``iss``, ``aud``, ``exp``, ``nbf`` and
``iat`` must hold.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from hub.auth.keys import ALGORITHM
from hub.auth.passwords import new_token

TOKEN_TYPE = "at+jwt"
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# What external identity providers may sign with: asymmetric algorithms only.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


class TokenRejected(Exception):
    """The token is not one the hub accepts; the message says why, without secrets."""


@dataclass(frozen=True)
class AccessClaims:
    issuer: str
    subject: str
    client_id: str
    scopes: frozenset[str]
    token_id: str
    expires_at: int
    issued_at: int
    member_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None


def issue_access_token(
    key: ECKey,
    *,
    issuer: str,
    audience: str,
    client_id: str,
    scopes: Collection[str],
    now: int,
    lifetime: int,
    member_id: uuid.UUID | None = None,
    family_id: uuid.UUID | None = None,
    auth_time: int | None = None,
) -> str:
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": str(member_id) if member_id else client_id,
        "client_id": client_id,
        "scope": " ".join(sorted(scopes)),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": new_token(16),
    }
    if family_id is not None:
        claims["sid"] = str(family_id)
    if auth_time is not None:
        claims["auth_time"] = auth_time
    header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])


@dataclass(frozen=True)
class Unverified:
    """What a token claims about itself before anything is checked: only to choose the keys."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def issuer(self) -> str | None:
        value = self.claims.get("iss")
        return value if isinstance(value, str) else None

    @property
    def kid(self) -> str | None:
        value = self.header.get("kid")
        return value if isinstance(value, str) else None


def peek(token: str) -> Unverified:
    try:
        compact = jws.extract_compact(token.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenRejected("the access token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise TokenRejected("the access token is not a JWT")
    return Unverified(dict(compact.headers()), claims)


def verify_access_token(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    now: int,
    leeway: int,
) -> AccessClaims:
    """A token the hub signed, if its signature, header and claims all hold; else TokenRejected."""
    claims = verify_signed(
        token,
        keys,
        issuer=issuer,
        audience=audience,
        algorithms=(ALGORITHM,),
        now=now,
        leeway=leeway,
        essential=("exp", "iat", "sub", "jti"),
    )
    return _claims_of(claims)


def verify_signed(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    algorithms: Collection[str],
    now: int,
    leeway: int,
    essential: Collection[str],
) -> dict[str, Any]:
    """The claims of a signed access token from ``issuer``, checked; else TokenRejected."""
    unverified = peek(token)
    alg = unverified.header.get("alg")
    if alg not in algorithms:
        raise TokenRejected(f"tokens signed with {alg!r} are not accepted")
    typ = unverified.header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
        raise TokenRejected("the token is not an access token (typ at+jwt)")
    kid = unverified.kid
    if kid is None or not any(key.kid == kid for key in keys.keys):
        raise TokenRejected("the token was signed by a key the hub does not know")
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
        options: dict[str, Any] = {name: {"essential": True} for name in essential}
        options["iss"] = {"essential": True, "value": issuer}
        options["aud"] = {"essential": True, "value": audience}
        jwt.JWTClaimsRegistry(now=now, leeway=leeway, **options).validate(decoded.claims)
    except JoseError as exc:
        raise TokenRejected(f"the access token is invalid ({exc.error})") from exc
    return dict(decoded.claims)


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    """``scope`` as RFC 9068 has it (a string), or ``scp`` as some providers send it (a list)."""
    scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list) and all(isinstance(item, str) for item in scope):
        return frozenset(scope)
    raise TokenRejected("the access token's scope is malformed")


def _claims_of(claims: dict[str, Any]) -> AccessClaims:
    client_id = claims.get("client_id")
    subject = claims.get("sub")
    if not isinstance(client_id, str) or not isinstance(subject, str):
        raise TokenRejected("the access token names no client")
    member_id = family_id = None
    try:
        if subject != client_id:
            member_id = uuid.UUID(subject)
        if "sid" in claims:
            family_id = uuid.UUID(str(claims["sid"]))
    except ValueError as exc:
        raise TokenRejected("the access token's subject is malformed") from exc
    return AccessClaims(
        issuer=str(claims["iss"]),
        subject=subject,
        client_id=client_id,
        scopes=scopes_of(claims),
        token_id=str(claims["jti"]),
        expires_at=int(claims["exp"]),
        issued_at=int(claims["iat"]),
        member_id=member_id,
        family_id=family_id,
    )
