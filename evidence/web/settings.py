"""What the web app needs besides the store's settings: the session key, cookie and sign-in limits."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from evidence.config import Settings
from evidence.errors import StoreError
from evidence.support.fsutil import atomic_write_bytes

SECRET_ENV = "EVIDENCE_WEB_SECRET"
SECURE_COOKIES_ENV = "EVIDENCE_WEB_SECURE_COOKIES"
SECRET_FILE = "web-secret"
PACKET_KEEP_ENV = "EVIDENCE_WEB_PACKET_KEEP_SECONDS"
SECRET_BYTES = 32
DEFAULT_MAX_UPLOAD_MB = 512


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class WebSettings:
    store: Settings
    secret_key: str  # signs the session cookie (itsdangerous, through Starlette's SessionMiddleware)
    secure_cookies: bool = False  # behind TLS: the cookie is sent over HTTPS only
    idle_seconds: int = 30 * 60  # a session unused this long has ended
    absolute_seconds: int = 12 * 60 * 60  # ... and any session this long after its sign-in
    sign_in_failures: int = 5  # failed sign-ins allowed per account and per client address ...
    sign_in_window_seconds: int = 15 * 60  # ... in this sliding window (then 429)
    now: Callable[[], float] = field(default=time.time)  # seconds; tests move the clock
    today: Callable[[], date] = field(default=_today)  # what the dashboard counts days from
    packet_workers: int = 1  # packet and audit-response jobs rendered at once (the rest wait their turn)
    packet_keep_seconds: int = 60 * 60  # a finished job's files are removed this long after it ended
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20  # a larger request body is refused with 413
    upload_dir: Path | None = None  # where uploads are spooled (a private folder per request): None, $TMPDIR


def session_secret(home: Path) -> str:
    """$EVIDENCE_WEB_SECRET, else 32 random bytes made once into <home>/web-secret (0600)."""
    given = os.environ.get(SECRET_ENV)
    if given:
        if len(given) < 32:
            raise StoreError(f"${SECRET_ENV} is too short: give at least 32 characters (e.g. 64 hex digits)")
        return given
    path = home / SECRET_FILE
    try:
        if not path.exists():
            _create_once(path, secrets.token_hex(SECRET_BYTES).encode("ascii"))
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read or create the session key {path}: {exc}") from None
    if len(text) < 2 * SECRET_BYTES:
        raise StoreError(f"the session key {path} is damaged (too short): remove it to make a new one")
    return text


def _create_once(path: Path, key: bytes) -> None:
    """Written whole beside the home, then linked into place: two processes starting at once
    end up with one key (the second link fails and that process reads the first one's)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    atomic_write_bytes(tmp, key)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def web_settings(
    store: Settings, *, behind_tls: bool = False, max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
) -> WebSettings:
    secure = behind_tls or os.environ.get(SECURE_COOKIES_ENV, "") == "1"
    keep = os.environ.get(PACKET_KEEP_ENV, "").strip()
    if keep and not (keep.isascii() and keep.isdigit() and 60 <= int(keep) <= 7 * 24 * 3600):
        raise StoreError(f"${PACKET_KEEP_ENV} must be a whole number of seconds from 60 to 604800, not {keep[:20]!r}")
    return WebSettings(
        store=store,
        secret_key=session_secret(store.home),
        secure_cookies=secure,
        packet_keep_seconds=int(keep) if keep else WebSettings.packet_keep_seconds,
        max_upload_bytes=max_upload_mb * 2**20,
    )
