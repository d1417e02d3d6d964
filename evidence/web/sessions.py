"""Who is asking: a signed-in browser session or a Bearer token, turned into a Principal.

The session cookie (Starlette's SessionMiddleware, signed with itsdangerous) holds the user's
name, their session epoch at sign-in, when they signed in, when they were last seen and the CSRF
token; nothing secret. A password change or a disabled user moves the epoch: every older session ends.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote

from fastapi import Request

from evidence.access import guarded
from evidence.access.policy import Principal
from evidence.app import App
from evidence.errors import AuthenticationError, StoreError
from evidence.web.security import CSRF_KEY, new_csrf_token
from evidence.web.settings import WebSettings

USER, EPOCH, SIGNED_IN, SEEN = "user", "epoch", "signed_in_at", "seen_at"


class SignInRequired(Exception):
    """A page asked for without a live session: answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def app_of(request: Request) -> App:
    app: App = request.app.state.evidence
    return app


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.web_settings
    return settings


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first need (the sign-in form of an anonymous visitor too)."""
    session: dict[str, Any] = request.session
    if CSRF_KEY not in session:
        session[CSRF_KEY] = new_csrf_token()
    return str(session[CSRF_KEY])


def start_session(request: Request, principal: Principal) -> None:
    """Rotate at sign-in: nothing of the anonymous session survives, and the CSRF token is new."""
    now = settings_of(request).now()
    request.session.clear()
    request.session.update(
        {USER: principal.name, EPOCH: principal.session_epoch, SIGNED_IN: now, SEEN: now, CSRF_KEY: new_csrf_token()}
    )


def end_session(request: Request) -> None:
    request.session.clear()


def session_user(request: Request) -> Principal | None:
    """The signed-in user, or None when there is no session or it has ended (idle, too old, epoch moved)."""
    session: dict[str, Any] = request.session
    name = session.get(USER)
    if not isinstance(name, str):
        return None
    settings = settings_of(request)
    now = settings.now()
    try:
        idle = now - float(session[SEEN]) > settings.idle_seconds
        old = now - float(session[SIGNED_IN]) > settings.absolute_seconds
        epoch = int(session[EPOCH])
    except (KeyError, TypeError, ValueError):
        idle = old = True
        epoch = -1
    if idle or old:
        end_session(request)
        return None
    try:
        with app_of(request).read() as db:
            principal = guarded.session_principal(db, name, epoch)
    except AuthenticationError:
        end_session(request)
        return None
    session[SEEN] = now
    return principal


def page_principal(request: Request) -> Principal:
    """For pages: the signed-in user, else a redirect to sign in and come back here."""
    principal = session_user(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return principal


def api_principal(request: Request) -> Principal:
    """For /api/: the Bearer token's principal (AuthenticationError, 401, otherwise)."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationError("an API token is required: Authorization: Bearer evd_...")
    app = app_of(request)
    with app.read() as db:
        principal = guarded.authenticate_token(db, presented.strip())
    # last_used_at is a hint, not a record (tokens.note_use): a store refusing writes
    # (a rollback waiting for `verify --accept-rollback`) still answers reads.
    with contextlib.suppress(StoreError), app.write() as db:
        guarded.note_use(db, principal)
    return principal


def sign_in_url(next_path: str) -> str:
    return "/sign-in?next=" + quote(next_path, safe="/")


def local_path(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (no scheme, no host, no //, no backslash)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        return "/"
    return value
