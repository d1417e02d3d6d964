"""API tokens: created with their own role and grants, shown once, stored as a SHA-256, revoked.

A token reads `evd_<id>_<secret>`: the id finds the row with one indexed query, the 256-bit
secret is compared by its SHA-256 in constant time. Argon2 is for what people choose: a random
256-bit secret cannot be guessed, so a fast hash loses nothing (as GitHub and Django REST Knox do).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.access.grants import granted_practices, parse_name
from evidence.access.policy import Principal, parse_role
from evidence.db.models import ApiToken, Practice, Role, TokenPractice
from evidence.db.types import utcnow
from evidence.errors import AuthenticationError, ConflictError, NotFoundError
from evidence.retention.audit import record

PREFIX = "evd_"
_PRESENTED = re.compile(r"evd_([1-9][0-9]{0,17})_([A-Za-z0-9_-]{43})")  # token_urlsafe(32): 43 characters
REFUSED = "the API token is not valid (malformed, unknown or revoked)"
_LAST_USED_EVERY = timedelta(hours=1)  # last_used_at is a hint, not a write on every request


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    role: str
    practices: tuple[str, ...]  # granted TINs; empty: every practice
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(
    session: Session, name: str, role: str, *, practices: Iterable[str] = (), actor: str
) -> tuple[TokenView, str]:
    """A new token and its secret text, which is stored nowhere: the caller shows it once."""
    name = parse_name(name, "token name")
    parsed_role = parse_role(role)
    granted = granted_practices(session, parsed_role, practices)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=parsed_role, secret_sha256=_digest(secret), created_by=actor)
    session.add(token)
    session.flush()
    session.add_all(TokenPractice(token_id=token.id, practice_id=p.id) for p in granted)
    session.flush()
    tins = [p.tin for p in granted]
    scope = ", ".join(tins) if tins else "every practice"
    record(
        session,
        actor,
        "token.create",
        f"API token {token.id} ({name}) created as {parsed_role} ({scope})",
        details={"token_id": token.id, "name": name, "role": str(parsed_role), "practices": tins},
    )
    return _view(session, token), f"{PREFIX}{token.id}_{secret}"


def list_tokens(session: Session) -> list[TokenView]:
    return [_view(session, token) for token in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(session: Session, token_id: int, *, actor: str) -> TokenView:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError(f"no API token {token_id}; `evidence token list` shows them")
    if token.revoked_at is not None:
        raise ConflictError(f"API token {token_id} is already revoked (since {token.revoked_at:%Y-%m-%d %H:%M} UTC)")
    token.revoked_at, token.revoked_by = utcnow(), actor
    session.flush()
    record(
        session, actor, "token.revoke", f"API token {token.id} ({token.name}) revoked", details={"token_id": token.id}
    )
    return _view(session, token)


def authenticate_token(session: Session, presented: str) -> Principal:
    """The Principal of a valid, unrevoked token; AuthenticationError, one wording, for anything else."""
    match = _PRESENTED.fullmatch(presented)
    if match is None:
        raise AuthenticationError(REFUSED)
    token = session.get(ApiToken, int(match[1]))
    expected = token.secret_sha256 if token is not None else _digest("")
    if not hmac.compare_digest(_digest(match[2]), expected) or token is None or token.revoked_at is not None:
        raise AuthenticationError(REFUSED)
    tins = [p.tin for p in _practices(session, token)]
    role = Role(token.role)
    return Principal(
        name=token.name,
        role=role,
        tins=frozenset(tins) if tins and role is not Role.ADMIN else None,
        token_id=token.id,
    )


def note_use(session: Session, principal: Principal) -> None:
    """Stamp the token's last use (at most hourly, so a busy client does not write on each request).

    A usage hint rather than a record: it is not an audit event.
    """
    if principal.token_id is None:
        return
    token = session.get(ApiToken, principal.token_id)
    now = utcnow()
    if token is not None and (token.last_used_at is None or now - token.last_used_at >= _LAST_USED_EVERY):
        token.last_used_at = now
        session.flush()


def _practices(session: Session, token: ApiToken) -> list[Practice]:
    return list(
        session.scalars(
            select(Practice)
            .join(TokenPractice, TokenPractice.practice_id == Practice.id)
            .where(TokenPractice.token_id == token.id)
            .order_by(Practice.tin)
        )
    )


def _view(session: Session, token: ApiToken) -> TokenView:
    return TokenView(
        id=token.id,
        name=token.name,
        role=token.role,
        practices=tuple(p.tin for p in _practices(session, token)),
        created_at=token.created_at,
        created_by=token.created_by,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        revoked_by=token.revoked_by,
    )
