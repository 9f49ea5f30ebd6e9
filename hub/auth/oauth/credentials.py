"""The client credentials a request presents, read before anything is checked.

A client authenticates with one method per request (RFC 6749 §2.3): HTTP Basic
(``client_secret_basic``), ``client_id`` and ``client_secret`` in the form
(``client_secret_post``), or a signed assertion (``private_key_jwt``, RFC 7523). Knowing which
client an attempt claims to be, before its secret is hashed or its signature checked, is what
lets the throttle refuse it cheaply; a request presenting two methods at once is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from joserfc import jws
from joserfc.errors import JoseError

from hub.auth.oauth.requests import BadForm, HubOAuth2Request

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class Presented:
    method: str
    # None when it cannot be read: a garbled assertion names no client.
    client_id: str | None


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header, or None if there is
    none or it cannot be read (not base64, not UTF-8, no colon)."""
    scheme, _, encoded = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        client_id, colon, secret = decoded.partition(":")
        # RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
        client_id, secret = unquote(client_id, errors="strict"), unquote(secret, errors="strict")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if colon else None


def assertion_subject(assertion: str) -> str | None:
    """The ``sub`` an assertion claims, unverified: only to know whose budget the attempt
    spends. Its signature is checked later, by the authentication itself."""
    try:
        payload = jws.extract_compact(assertion.encode()).payload
        claims = json.loads(payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else None


def presented(request: HubOAuth2Request) -> Presented | None:
    """What the request authenticates with, or None if it presents no credentials at all.

    Raises ``BadForm`` for a request that uses more than one method."""
    form = request.form
    methods: list[Presented] = []
    if request.headers.get("authorization", "").strip().lower().startswith("basic"):
        basic = basic_credentials(request.headers)
        methods.append(Presented("client_secret_basic", basic[0] if basic else None))
    if "client_secret" in form:
        methods.append(Presented("client_secret_post", form.get("client_id")))
    if "client_assertion" in form or "client_assertion_type" in form:
        subject = assertion_subject(form.get("client_assertion", ""))
        methods.append(Presented("private_key_jwt", subject))
    if len(methods) > 1:
        raise BadForm("authenticate the client with one method only (RFC 6749 section 2.3)")
    return methods[0] if methods else None
