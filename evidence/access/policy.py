"""Roles, permissions and practice grants: the one table, and the checks front ends call.

Each service entry point the web app (or the CLI) exposes is guarded by one `require(...)` with
the permission it needs and, where it concerns one practice, that practice's TIN.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from evidence.db.models import Practice, Role
from evidence.errors import ForbiddenError, InputError
from evidence.records.practices import no_such_practice


class Permission(StrEnum):
    READ = "read"  # every listing, report, score, download
    RECORDS = "records"  # add practices, clinicians, attestations, participation; CSV import
    REGISTER = "register"  # register evidence files
    CORRECT = "correct"  # edit dates and descriptions, correct attestations and participation
    LINK = "link"  # link and unlink evidence
    WITHDRAW = "withdraw"  # withdraw a mistaken registration
    PACKET = "packet"  # make audit packets (they are recorded in the audit trail)
    AUDITS = "audits"  # open, note and close CMS audit requests
    USERS = "users"  # users and API tokens
    RETENTION = "retention"  # lengthen the retention period
    HOLDS = "holds"  # place and release legal holds
    PURGE = "purge"  # delete what has passed its retention window


_OFFICER = frozenset(
    {
        Permission.READ,
        Permission.RECORDS,
        Permission.REGISTER,
        Permission.CORRECT,
        Permission.LINK,
        Permission.WITHDRAW,
        Permission.PACKET,
        Permission.AUDITS,
    }
)

# Issue #15: a viewer reads; an officer registers, corrects and makes packets; an admin also
# manages users, retention, holds and purge.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OFFICER: _OFFICER,
    Role.ADMIN: frozenset(Permission),
}

# How a refusal says what was refused: "a viewer may not register evidence".
_ACTS: dict[Permission, str] = {
    Permission.READ: "read records",
    Permission.RECORDS: "add or import practices, clinicians and attestations",
    Permission.REGISTER: "register evidence",
    Permission.CORRECT: "correct records",
    Permission.LINK: "link or unlink evidence",
    Permission.WITHDRAW: "withdraw evidence",
    Permission.PACKET: "make packets",
    Permission.AUDITS: "open or note audit requests",
    Permission.USERS: "manage users and API tokens",
    Permission.RETENTION: "change the retention period",
    Permission.HOLDS: "place or release legal holds",
    Permission.PURGE: "purge records",
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InputError(f"role {value[:40]!r} is not one of {', '.join(Role)}") from None


@dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user or an API token, with its role and the practices it sees.

    `tins` is None for every practice (an admin, or an officer or viewer with no grants: a
    one-practice install); otherwise the granted TINs.
    """

    name: str
    role: Role
    tins: frozenset[str] | None
    token_id: int | None = None
    session_epoch: int = 0  # the user's at sign-in; a session is stale once the user's moves on

    @property
    def actor(self) -> str:
        """What the audit trail records as who acted."""
        return self.name if self.token_id is None else f"token {self.token_id} ({self.name})"

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    def sees(self, tin: str) -> bool:
        return self.tins is None or tin in self.tins


def require(principal: Principal, permission: Permission, *, tin: str | None = None) -> None:
    """ForbiddenError when the role lacks `permission`; for a TIN not granted, the NotFoundError
    a TIN that does not exist gets (the role is checked first: a 403 says nothing about the TIN)."""
    if not principal.may(permission):
        article = "an" if principal.role is Role.ADMIN or principal.role is Role.OFFICER else "a"
        raise ForbiddenError(f"{principal.name} is {article} {principal.role} and may not {_ACTS[permission]}")
    if tin is not None and not principal.sees(tin):
        raise no_such_practice(tin)


def practice_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on Practice.tin for listings: only the practices the principal sees."""
    if principal.tins is None:
        return true()
    return Practice.tin.in_(sorted(principal.tins))


def visible_tins(principal: Principal, session: Session) -> list[str]:
    """The TINs of the stored practices the principal sees, in order."""
    return list(session.scalars(select(Practice.tin).where(practice_filter(principal)).order_by(Practice.tin)))
