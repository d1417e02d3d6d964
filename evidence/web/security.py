"""Response headers on every answer, and the CSRF check on every state-changing request.

Both are plain ASGI middleware, so no route can forget them.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
CSRF_KEY = "csrf"  # in the session
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# No upload in this slice: a form is a few fields, and the whole body is read to find the token.
MAX_FORM_BYTES = 64 * 1024


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


class SecurityHeaders:
    """The headers of docs/DEPLOYMENT.md on every response; `no-store` on all but the style sheet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {n for n, _ in HEADERS}]
                headers += HEADERS
                headers.append((b"cache-control", b"no-cache" if cacheable else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfProtection:
    """A synchronizer token: the session's token must come back in the form field (or X-CSRF-Token)
    of every POST, PUT, PATCH and DELETE, except an API call carrying a Bearer token (no cookie is
    involved, so another site cannot forge it). Anything else is refused with 403 before any route runs.
    Sits inside SessionMiddleware (it reads scope["session"])."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE or _bearer(scope):
            await self.app(scope, receive, send)
            return
        body, too_large = await _read_body(receive)
        if too_large:
            await _refuse(scope, send, 413, "the form is too large")
            return
        expected = scope.get("session", {}).get(CSRF_KEY)
        presented = _presented_token(scope, body)
        if not expected or not presented or not hmac.compare_digest(str(expected), presented):
            await _refuse(scope, send, 403, "the form's CSRF token is missing or wrong: reload the page and try again")
            return
        await self.app(scope, _replay(body, receive), send)


def _bearer(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return bool(value[:7].lower() == b"bearer ")
    return False


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _presented_token(scope: Scope, body: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == CSRF_HEADER:
            return str(value.decode("latin-1"))
    content_type = next((v for n, v in scope.get("headers", []) if n == b"content-type"), b"")
    if not content_type.startswith(b"application/x-www-form-urlencoded"):
        return None
    try:
        values = parse_qs(body.decode("utf-8"), keep_blank_values=True).get(CSRF_FIELD, [])
    except UnicodeDecodeError:
        return None
    return values[0] if len(values) == 1 else None


def _replay(body: bytes, then: Receive) -> Receive:
    """The body already read, once; after it the client's own messages (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    api = str(scope.get("path", "")).startswith("/api/")
    payload: Any = json.dumps({"error": message}) if api else f"<!doctype html><title>Refused</title><p>{message}</p>"
    content_type = b"application/json" if api else b"text/html; charset=utf-8"
    body = payload.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode("ascii"))],
        }
    )
    await send({"type": "http.response.body", "body": body})
