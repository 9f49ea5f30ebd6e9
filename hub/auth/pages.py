"""The few HTML pages the hub shows people: sign in for an application, accept an invitation.

Plain HTML with every value escaped; no scripts. The pages may not be framed (clickjacking) and
are never cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from starlette.responses import HTMLResponse

HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1rem}.error{color:#a00}code{font-size:.85rem}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _hidden(fields: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields
    )


def sign_in_page(
    *,
    client_name: str,
    provider_name: str,
    scopes: list[str],
    fields: Iterable[tuple[str, str]],
    login: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    scope_items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes)
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<p><strong>{escape(client_name)}</strong> wants to act for you at "
        f"<strong>{escape(provider_name)}</strong>, with these permissions:</p>"
        f"<ul>{scope_items}</ul>{message}"
        f'<form method="post" action="/oauth/authorize">{_hidden(fields)}'
        f'<label for="login">Login</label>'
        f'<input id="login" name="login" value="{escape(login)}" autocomplete="username" required>'
        f'<label for="password">Password</label>'
        f'<input id="password" name="password" type="password" '
        f'autocomplete="current-password" required>'
        f'<button type="submit" name="decision" value="allow">Sign in and allow</button>'
        f'<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>'
        f"</form>"
    )
    return _page("Sign in to the hub", body, status)


def invitation_page(
    *, token: str, login: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        # One page whether or not the login has an account already: whoever holds the link
        # (the inviter saw it) learns nothing from it.
        f"<p>Choose a password for <strong>{escape(login)}</strong>. If you already have "
        f"an account on the hub, enter its password to accept instead.</p>{message}"
        f'<form method="post" action="/oauth/invitation">{_hidden([("token", token)])}'
        f'<label for="password">Password (at least 12 characters)</label>'
        f'<input id="password" name="password" type="password" '
        f'autocomplete="new-password" required>'
        f'<label for="repeat">Password again</label>'
        f'<input id="repeat" name="repeat" type="password" autocomplete="new-password" required>'
        f'<button type="submit">Set password</button></form>'
    )
    return _page("Welcome to the hub", body, status)


def message_page(title: str, text: str, status: int = 200) -> HTMLResponse:
    return _page(title, f"<p>{escape(text)}</p>", status)
