"""What users and tokens share: their names and the practices they are granted."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import Practice, Role
from evidence.errors import InputError
from evidence.records.practices import no_such_practice
from evidence.rules.identifiers import parse_tin

# Sign-in names and token labels: plain ASCII, so no two look alike, none hides a control or bidi
# character, and each is one word in a log line.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def parse_name(value: str, what: str) -> str:
    if not value:
        raise InputError(f"the {what} is empty")
    if any(c.isspace() for c in value):
        raise InputError(f"the {what} contains whitespace")
    if any(not c.isprintable() for c in value):
        raise InputError(f"the {what} contains a control or invisible character")
    if not _NAME.fullmatch(value):
        raise InputError(
            f"the {what} must be 1 to 64 ASCII letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return value


def granted_practices(session: Session, role: Role, tins: Iterable[str]) -> list[Practice]:
    """The practices named, each existing and named once; none for an admin, who sees them all."""
    wanted = [parse_tin(tin) for tin in tins]
    if wanted and role is Role.ADMIN:
        raise InputError("an admin sees every practice: practice grants are for officers and viewers")
    repeated = sorted({tin for tin in wanted if wanted.count(tin) > 1})
    if repeated:
        raise InputError(f"practice {repeated[0]} is given twice")
    found = {p.tin: p for p in session.scalars(select(Practice).where(Practice.tin.in_(wanted)))}
    for tin in wanted:
        if tin not in found:
            raise no_such_practice(tin)
    return [found[tin] for tin in sorted(wanted)]
