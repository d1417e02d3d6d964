"""Users: add, list, disable, grant and revoke practices, change a password, sign in.

Every change is an audited event; none carries a password or a hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence.access import passwords
from evidence.access.grants import granted_practices, parse_name
from evidence.access.policy import Principal, parse_role
from evidence.db.models import Practice, Role, User, UserPractice
from evidence.db.types import utcnow
from evidence.errors import AuthenticationError, ConflictError, NotFoundError
from evidence.retention.audit import record
from evidence.rules.identifiers import parse_tin

# One wording for an unknown name and a wrong password: a refusal never tells which names exist.
SIGN_IN_REFUSED = "wrong user name or password"


@dataclass(frozen=True)
class UserView:
    id: int
    name: str
    role: str
    practices: tuple[str, ...]  # granted TINs; empty: every practice
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_by: str | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


def add_user(
    session: Session, name: str, role: str, password: str, *, practices: Iterable[str] = (), actor: str
) -> UserView:
    name = parse_name(name, "user name")
    parsed_role = parse_role(role)
    granted = granted_practices(session, parsed_role, practices)
    if _find(session, name) is not None:
        raise ConflictError(f"a user named {name} already exists (names are compared ignoring case)")
    password_hash = passwords.hash_password(password)
    user = User(name=name, name_key=name.casefold(), role=parsed_role, password_hash=password_hash, created_by=actor)
    session.add(user)
    session.flush()
    session.add_all(UserPractice(user_id=user.id, practice_id=p.id) for p in granted)
    session.flush()
    tins = [p.tin for p in granted]
    scope = ", ".join(tins) if tins else "every practice"
    record(
        session,
        actor,
        "user.add",
        f"user {name} added as {parsed_role} ({scope})",
        details={"user_id": user.id, "name": name, "role": str(parsed_role), "practices": tins},
    )
    return _view(session, user)


def list_users(session: Session) -> list[UserView]:
    return [_view(session, user) for user in session.scalars(select(User).order_by(User.name_key))]


def disable_user(session: Session, name: str, *, actor: str) -> UserView:
    """The user can no longer sign in; every session of theirs ends (session_epoch). Never undone here."""
    user = _require(session, name)
    if user.disabled_at is not None:
        raise ConflictError(f"user {user.name} is already disabled (since {user.disabled_at:%Y-%m-%d %H:%M} UTC)")
    if user.role == Role.ADMIN and _enabled_admins(session) == 1:
        raise ConflictError(f"user {user.name} is the last enabled admin: add another admin first")
    user.disabled_at, user.disabled_by = utcnow(), actor
    user.session_epoch += 1
    session.flush()
    record(session, actor, "user.disable", f"user {user.name} disabled", details={"user_id": user.id})
    return _view(session, user)


def grant(session: Session, name: str, tin: str, *, actor: str) -> UserView:
    user = _require(session, name)
    (practice,) = granted_practices(session, Role(user.role), [tin])
    if practice.id in _granted_ids(session, user):
        raise ConflictError(f"user {user.name} is already granted practice {practice.tin}")
    narrowing = not _granted_ids(session, user)
    session.add(UserPractice(user_id=user.id, practice_id=practice.id))
    session.flush()
    note = " (until now every practice: from now on only the granted ones)" if narrowing else ""
    record(
        session,
        actor,
        "user.grant",
        f"user {user.name} granted practice {practice.tin}{note}",
        tin=practice.tin,
        details={"user_id": user.id, "practice_id": practice.id},
    )
    return _view(session, user)


def revoke(session: Session, name: str, tin: str, *, actor: str) -> UserView:
    """Take a practice away. The last one is refused: with no grants left the user would see every practice."""
    user = _require(session, name)
    tin = parse_tin(tin)
    grants = {p.tin: (g, p) for g, p in _grants(session, user)}
    if tin not in grants:
        raise NotFoundError(f"user {user.name} has no grant for practice {tin}")
    if len(grants) == 1:
        raise ConflictError(
            f"practice {tin} is user {user.name}'s last grant, and with none an officer or viewer sees every "
            "practice: grant the other practice first, or disable the user"
        )
    row, practice = grants[tin]
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        "user.revoke",
        f"user {user.name}'s grant of practice {practice.tin} revoked",
        tin=practice.tin,
        details={"user_id": user.id, "practice_id": practice.id, "grant_id": row.id},
    )
    return _view(session, user)


def set_password(session: Session, name: str, password: str, *, actor: str) -> UserView:
    """A new password; every session signed in with the old one ends (session_epoch)."""
    user = _require(session, name)
    user.password_hash = passwords.hash_password(password)
    user.session_epoch += 1
    session.flush()
    record(session, actor, "user.password", f"user {user.name}'s password changed", details={"user_id": user.id})
    return _view(session, user)


def authenticate_password(session: Session, name: str, password: str) -> Principal:
    """The Principal of an enabled user whose password matches; AuthenticationError otherwise.

    Run it in a writer session: a hash made with older Argon2 parameters is replaced on success.
    An unknown name costs one Argon2 verification too, so timing does not tell names apart.
    """
    user = _find(session, name) if len(name) <= 64 else None
    if user is None or len(password) > passwords.MAX_LENGTH:  # nobody has such a password: refused at the same cost
        passwords.verify_nothing(password)
        raise AuthenticationError(SIGN_IN_REFUSED)
    if not passwords.verify(user.password_hash, password):
        raise AuthenticationError(SIGN_IN_REFUSED)
    if user.disabled_at is not None:  # told only to whoever knows the password
        raise AuthenticationError(f"user {user.name} is disabled")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.HASHER.hash(passwords.accepted(password))
        session.flush()
        record(
            session,
            user.name,
            "user.rehash",
            f"user {user.name}'s password hash upgraded to the current Argon2 parameters",
            details={"user_id": user.id},
        )
    return principal_of(session, user)


def session_principal(session: Session, name: str, epoch: int) -> Principal:
    """The Principal of a web session signed in at `epoch`, with the user's grants as they are now.

    AuthenticationError once the user is gone, disabled or has a new password (the epoch moved on).
    """
    user = _find(session, name)
    if user is None or user.disabled_at is not None or user.session_epoch != epoch:
        raise AuthenticationError("the session has ended: sign in again")
    return principal_of(session, user)


def principal_of(session: Session, user: User) -> Principal:
    tins = [p.tin for _, p in _grants(session, user)]
    role = Role(user.role)
    return Principal(
        name=user.name,
        role=role,
        tins=frozenset(tins) if tins and role is not Role.ADMIN else None,
        session_epoch=user.session_epoch,
    )


def _find(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name_key == name.casefold()))


def _require(session: Session, name: str) -> User:
    user = _find(session, name)
    if user is None:
        shown = name if len(name) <= 64 else f"{name[:40]}... ({len(name)} characters)"
        raise NotFoundError(f"no user named {shown}; `evidence user list` shows them")
    return user


def _grants(session: Session, user: User) -> Sequence[tuple[UserPractice, Practice]]:
    rows = session.execute(
        select(UserPractice, Practice)
        .join(Practice, Practice.id == UserPractice.practice_id)
        .where(UserPractice.user_id == user.id)
        .order_by(Practice.tin)
    )
    return [(g, p) for g, p in rows]


def _granted_ids(session: Session, user: User) -> set[int]:
    return {p.id for _, p in _grants(session, user)}


def _enabled_admins(session: Session) -> int:
    return session.scalar(select(func.count(User.id)).where(User.role == Role.ADMIN, User.disabled_at.is_(None))) or 0


def _view(session: Session, user: User) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        role=user.role,
        practices=tuple(p.tin for _, p in _grants(session, user)),
        created_at=user.created_at,
        created_by=user.created_by,
        disabled_at=user.disabled_at,
        disabled_by=user.disabled_by,
    )
