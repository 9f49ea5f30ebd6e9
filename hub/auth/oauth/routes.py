"""The authorization server's HTTP endpoints, mounted by the application.

/oauth/token, /oauth/revoke, /oauth/introspect   the token endpoints (form posts from clients)
/oauth/authorize                                 a member signs in for an application
/oauth/invitation                                a person accepts an invitation (a new
                                                 member chooses a password)
/.well-known/oauth-authorization-server          RFC 8414 metadata
/.well-known/jwks.json                           the public keys access tokens are signed with
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from authlib.oauth2.rfc6749.errors import InsecureTransportError, OAuth2Error
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.auth import pages
from hub.auth.login import (
    LOCKED,
    accept_invitation,
    credential_for,
    open_invitation,
    password_hash_of,
    record_attempt,
    sign_in,
)
from hub.auth.oauth import throttle
from hub.auth.oauth.credentials import presented
from hub.auth.oauth.portal import LookupPortal, Portal
from hub.auth.oauth.requests import BadForm, HubOAuth2Request, read_request
from hub.auth.oauth.server import NO_STORE, HubAuthorizationServer, OAuthContext, server_metadata
from hub.auth.passwords import check_password_strength, hash_secret, verify_secret
from hub.db.availability import is_database_unavailable
from hub.settings import Settings

AUTHORIZATION_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)

Work = Callable[[HubAuthorizationServer, HubOAuth2Request], Response]

WRONG_PASSWORD = "That is not the password of this account."

logger = logging.getLogger(__name__)


def _error(error: str, description: str, status: int, **headers: str) -> JSONResponse:
    """An error as RFC 6749 §5.2 shapes it."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**NO_STORE, **headers},
    )


def _invalid(description: str) -> JSONResponse:
    return _error("invalid_request", description, 400)


async def _read(request: Request) -> HubOAuth2Request | JSONResponse:
    try:
        return await read_request(request, request.app.state.settings.public_url)
    except BadForm as exc:
        return _invalid(str(exc))
    except InsecureTransportError:
        return _invalid("OAuth 2.0 needs HTTPS: set HUB_ISSUER to the hub's https:// URL")


async def _run(
    state: Any, oauth_request: HubOAuth2Request, work: Work
) -> tuple[Response, HubAuthorizationServer | None]:
    """Let authlib handle the request in a worker thread, in one transaction."""
    try:
        keys = await state.keyring.current()
        # The transaction commits whatever the outcome: a reused code or refresh token must
        # stay revoked, and a failed sign-in must stay counted, even though the response is
        # an error.
        async with state.sessions.begin() as session:
            context = OAuthContext(
                state.settings, Portal(session), LookupPortal(state.autocommit_sessions), keys
            )
            server = HubAuthorizationServer(context)
            response: Response = await anyio.to_thread.run_sync(work, server, oauth_request)
    except Exception as exc:
        if is_database_unavailable(exc):
            raise  # the request guard answers 503 DATABASE_UNAVAILABLE, with Retry-After
        # authlib answers what it expects with an OAuth2Error; anything else is the hub's own
        # fault: logged, masked, and answered as RFC 6749 names it, in JSON like the rest.
        logger.exception("the OAuth request to %s failed", oauth_request.uri)
        return _server_error(), None
    return response, server


def _server_error() -> JSONResponse:
    return _error("server_error", "the server could not handle the request", 500)


async def _admit(state: Any, attempt: throttle.Attempt) -> Response | None:
    """None when the throttle lets the attempt go on; else the answer to give."""
    try:
        async with state.autocommit_sessions() as session:
            admission = await throttle.admit(session, state.settings, attempt)
    except Exception as exc:
        if is_database_unavailable(exc):
            raise  # the request guard answers 503 DATABASE_UNAVAILABLE, with Retry-After
        # Unable to count the attempt, the hub does not check it either (no hashing unbounded).
        logger.exception("the client-authentication throttle could not be consulted")
        return _server_error()
    if admission.admitted:
        return None
    return _error(
        "invalid_client",
        "too many failed client authentications: try again later",
        429,
        **{"Retry-After": str(admission.retry_after)},
    )


async def _forgive(state: Any, attempt: throttle.Attempt) -> None:
    try:
        async with state.autocommit_sessions() as session:
            await throttle.forgive(session, state.settings, attempt)
    except Exception:
        # The client did authenticate and gets its answer; its budget stays a little short.
        logger.exception("the client-authentication throttle could not give an attempt back")


async def _with_server(request: Request, work: Work) -> Response:
    oauth_request = await _read(request)
    if isinstance(oauth_request, Response):
        return oauth_request
    response, _ = await _run(request.app.state, oauth_request, work)
    return response


async def _authenticating_client(request: Request, work: Work) -> Response:
    """As ``_with_server``, for the endpoints where a client authenticates: an attempt is
    admitted by the throttle first (hub/auth/oauth/throttle.py), and refused at once, without
    hashing anything, when its budgets are spent."""
    state: Any = request.app.state
    oauth_request = await _read(request)
    if isinstance(oauth_request, Response):
        return oauth_request
    try:
        credentials = presented(oauth_request)
    except BadForm as exc:
        return _invalid(str(exc))
    attempt = None
    if credentials is not None:
        attempt = throttle.Attempt(credentials.client_id, oauth_request.address)
        refused = await _admit(state, attempt)
        if refused is not None:
            return refused
    response, server = await _run(state, oauth_request, work)
    if attempt is not None and server is not None and server.authenticated_client is not None:
        await _forgive(state, attempt)
    return response


async def token(request: Request) -> Response:
    return await _authenticating_client(
        request, lambda server, req: server.create_token_response(req)
    )


async def revoke(request: Request) -> Response:
    return await _authenticating_client(
        request, lambda server, req: server.create_endpoint_response("revocation", req)
    )


async def introspect(request: Request) -> Response:
    return await _authenticating_client(
        request, lambda server, req: server.create_endpoint_response("introspection", req)
    )


def _authorization_error(
    server: HubAuthorizationServer, req: HubOAuth2Request, error: OAuth2Error
) -> Response:
    """Back to the client when its redirect URI was checked; otherwise only a page here."""
    if error.redirect_uri:
        response: Response = server.handle_error_response(req, error)
        return response
    return pages.message_page(
        "This sign-in link is not valid", error.description or error.error, status=400
    )


def _sign_in_page(grant: Any, req: HubOAuth2Request, **extra: Any) -> Response:
    data = req.payload.data
    return pages.sign_in_page(
        client_name=grant.client.name,
        provider_name=grant.client.provider_name,
        scopes=(req.scope or "").split(),
        fields=[(name, data[name]) for name in AUTHORIZATION_FIELDS if name in data],
        **extra,
    )


def _authorize(server: HubAuthorizationServer, req: HubOAuth2Request) -> Response:
    try:
        grant = server.get_consent_grant(req, end_user=None)
    except OAuth2Error as error:
        return _authorization_error(server, req, error)
    if req.method == "GET":
        return _sign_in_page(grant, req)
    form = req.form
    if form.get("decision") == "deny":
        denied: Response = server.create_authorization_response(req, grant_user=None, grant=grant)
        return denied
    outcome = sign_in(
        server.ctx.portal,
        server.ctx.settings,
        login=form.get("login", ""),
        password=form.get("password", ""),
        address=req.address,
        provider_id=grant.client.provider_id,
        now=server.ctx.now,
    )
    if isinstance(outcome, str):
        status = 429 if outcome == LOCKED else 401
        return _sign_in_page(grant, req, login=form.get("login", ""), error=outcome, status=status)
    allowed: Response = server.create_authorization_response(req, grant_user=outcome, grant=grant)
    return allowed


async def authorize(request: Request) -> Response:
    return await _with_server(request, _authorize)


async def invitation(request: Request) -> Response:
    state: Any = request.app.state
    now = datetime.now(UTC)
    if request.method == "GET":
        raw = request.query_params.get("token", "")
        async with state.sessions.begin() as session:
            member = await open_invitation(session, raw, now) if raw else None
        if member is None:
            return pages.message_page(
                "Invitation not valid", "This invitation was used or has expired.", status=404
            )
        return pages.invitation_page(token=raw, login=member.login)
    try:
        oauth_request = await read_request(request, state.settings.public_url)
    except (BadForm, InsecureTransportError) as exc:
        return pages.message_page("Invitation not valid", str(exc), status=400)
    form = oauth_request.form
    raw, password = form.get("token", ""), form.get("password", "")
    async with state.sessions.begin() as session:
        member = await open_invitation(session, raw, now) if raw else None
        if member is None:
            return pages.message_page(
                "Invitation not valid", "This invitation was used or has expired.", status=404
            )
        if password != form.get("repeat"):
            return _invitation_refused(raw, member.login, "the two passwords differ", 400)
        stored = await password_hash_of(session, member.id)
        if stored is None:
            problem = check_password_strength(password)
            if problem is not None:
                return _invitation_refused(raw, member.login, problem, 400)
            hashed = await anyio.to_thread.run_sync(hash_secret, state.settings, password)
            await accept_invitation(session, raw, hashed, now)
        else:
            # Someone who has an account accepts with its password: an invitation (whose link
            # the inviter saw) never replaces it. Tries count against the sign-in limits, so
            # the link is no way around them.
            refusal = await _existing_password_refusal(
                session, state.settings, member.login, stored, password, oauth_request.address, now
            )
            if refusal is not None:
                return _invitation_refused(raw, member.login, *refusal)
            await accept_invitation(session, raw, None, now)
    return pages.message_page(
        "Invitation accepted",
        f"You can now sign in as {member.login} from the applications you use.",
    )


def _invitation_refused(raw: str, login: str, problem: str, status: int) -> Response:
    return pages.invitation_page(token=raw, login=login, error=problem, status=status)


async def _existing_password_refusal(
    session: AsyncSession,
    settings: Settings,
    login: str,
    stored: str,
    password: str,
    address: str | None,
    now: datetime,
) -> tuple[str, int] | None:
    """None if ``password`` is the account's; else the message and status to refuse with."""
    credential = await credential_for(session, settings, login, address, now)
    if credential.locked:
        await record_attempt(session, login, address, False)
        return LOCKED, 429
    matched = await anyio.to_thread.run_sync(verify_secret, settings, stored, password)
    await record_attempt(session, login, address, matched)
    return None if matched else (WRONG_PASSWORD, 400)


async def metadata(request: Request) -> Response:
    return JSONResponse(server_metadata(request.app.state.settings))


async def jwks(request: Request) -> Response:
    keys = await request.app.state.keyring.current()
    return JSONResponse(keys.published, headers={"Cache-Control": "public, max-age=60"})


def oauth_routes() -> list[Route]:
    return [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/oauth/introspect", introspect, methods=["POST"]),
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/invitation", invitation, methods=["GET", "POST"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]
