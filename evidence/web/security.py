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
# An urlencoded form is a few fields: its whole body is read to find the token.
MAX_FORM_BYTES = 64 * 1024
# A multipart form (an upload) is never buffered: only its first part, which must be the token,
# is read (at most this much), checked, then replayed ahead of the rest of the stream.
MAX_CSRF_PART_BYTES = 4 * 1024


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
    of every POST, PUT, PATCH and DELETE, except an API call (under /api/: a Bearer token, no cookie
    is involved, so another site cannot forge it). Anything else is refused with 403 before
    any route runs. A multipart body (an upload) is not buffered: its first part must be the token.
    Sits inside SessionMiddleware (it reads scope["session"])."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE or _api(scope):
            await self.app(scope, receive, send)
            return
        if _content_type(scope).lower().startswith(b"multipart/form-data"):
            await self._multipart(scope, receive, send)
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

    async def _multipart(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            prefix, more, presented = await _first_part(_content_type(scope), receive)
        except BodyTooLarge as exc:
            await _refuse(scope, send, 413, exc.message)
            return
        expected = scope.get("session", {}).get(CSRF_KEY)
        if not expected or not presented or not hmac.compare_digest(str(expected), presented):
            await _refuse(scope, send, 403, "the form's CSRF token is missing or wrong: reload the page and try again")
            return
        await self.app(scope, _replay(prefix, receive, more_body=more), send)


class BodyTooLarge(Exception):
    """A request body past WebSettings.max_upload_bytes: answered with 413 (errors.py), nothing kept."""

    def __init__(self, limit: int) -> None:
        self.message = f"the upload is larger than this server's limit of {_mib(limit)}"
        super().__init__(self.message)


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size} bytes"


class BodyLimit:
    """No request body longer than `max_bytes`: a larger Content-Length is refused (413) before
    anything is read; a body that streams past it raises BodyTooLarge in whoever is reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for n, v in scope.get("headers", []) if n == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(scope, send, 413, BodyTooLarge(self.max_bytes).message)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_type(scope: Scope) -> bytes:
    value: bytes = next((v for n, v in scope.get("headers", []) if n == b"content-type"), b"")
    return value  # as sent: a boundary is case-sensitive


async def _first_part(content_type: bytes, receive: Receive) -> tuple[bytes, bool, str | None]:
    """Read a multipart body up to the end of its first part: (what was read, more to come, the
    token if that part is the csrf_token field). Reads at most about MAX_CSRF_PART_BYTES."""
    from python_multipart.multipart import parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    buffer, more = b"", True
    opening, closing = b"--" + boundary + b"\r\n", b"\r\n--" + boundary
    while more and closing not in buffer[len(opening) :] and len(buffer) <= MAX_CSRF_PART_BYTES:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", False, None
        buffer += message.get("body", b"")
        more = bool(message.get("more_body", False))
    end = buffer.find(closing, len(opening))
    if not boundary or not buffer.startswith(opening) or end < 0 or end > MAX_CSRF_PART_BYTES:
        return buffer, more, None
    headers, separator, value = buffer[len(opening) : end].partition(b"\r\n\r\n")
    if not separator:
        return buffer, more, None
    for line in headers.split(b"\r\n"):
        name, _, rest = line.partition(b":")
        if name.strip().lower() == b"content-disposition":
            kind, fields = parse_options_header(rest.strip())
            if kind == b"form-data" and fields.get(b"name") == CSRF_FIELD.encode() and b"filename" not in fields:
                return buffer, more, value.decode("latin-1")
    return buffer, more, None


def _api(scope: Scope) -> bool:
    """The API (under /api/) authenticates by Bearer token only, never by the cookie, so another site
    cannot forge a call: no CSRF token (an anonymous call gets its 401 from the route). A Bearer
    header on a page's POST skips nothing: the page acts on the cookie, which is what CSRF forges."""
    return str(scope.get("path", "")).startswith("/api/")


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


def _replay(body: bytes, then: Receive, *, more_body: bool = False) -> Receive:
    """The body already read, once; after it the client's own messages (the rest, or a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
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
