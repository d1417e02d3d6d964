"""The service entry points a front end may call on behalf of a user or token: each checks the
principal's permission (and practice grant) first, then calls the service itself.

The web app calls only these. A TIN not granted and a TIN that does not exist get the same
NotFoundError ("no practice with TIN ..."), checked in that order so nothing tells them apart.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from evidence.access.policy import Permission, Principal, require
from evidence.access.tokens import authenticate_token, note_use
from evidence.access.users import authenticate_password, session_principal
from evidence.records import views
from evidence.records.dashboard import Dashboard, dashboard
from evidence.records.listing import list_evidence
from evidence.records.missing import MissingReport, missing_report
from evidence.records.practices import list_practices, require_known_tin
from evidence.rules.identifiers import parse_activity_id, parse_npi, parse_tin, parse_year
from evidence.rules.scoring import score

# Who is asking (nothing to guard yet: they make the principal), straight from access.users and access.tokens.
__all__ = ["authenticate_password", "authenticate_token", "note_use", "session_principal"]


def _readable(session: Session, principal: Principal, tin: str) -> str:
    """The TIN, parsed, once the principal may read it and it exists (one NotFoundError for both)."""
    tin = parse_tin(tin)
    require(principal, Permission.READ, tin=tin)
    require_known_tin(session, tin)
    return tin


def readable_tin(session: Session, principal: Principal, tin: str) -> str:
    """The TIN, parsed, once the principal may read it (NotFoundError otherwise): what a front end
    checks on every request before it shows an answer it kept (evidence.web.answers)."""
    return _readable(session, principal, tin)


def practices(session: Session, principal: Principal) -> list[dict[str, object]]:
    """`evidence practice list`, limited to the practices the principal sees."""
    require(principal, Permission.READ)
    return list_practices(session, tins=principal.tins)


def missing(
    session: Session,
    principal: Principal,
    tin: str,
    year: int | str,
    *,
    npi: str | None = None,
    activity: str | None = None,
    level: str | None = None,
    status: str | None = None,
) -> MissingReport:
    """`evidence missing --tin --year [--npi --activity --level --status]`."""
    tin = _readable(session, principal, tin)
    report = missing_report(session, tin=tin, year=parse_year(year), npi=None if npi is None else parse_npi(npi))
    activity = None if activity is None else parse_activity_id(activity)
    return report.only(activity=activity, level=level, status=status)


def score_document(
    session: Session, principal: Principal, tin: str, year: int | str, *, npi: str | None = None
) -> dict[str, Any]:
    """`evidence score --tin --year [--npi] --format json`."""
    tin = _readable(session, principal, tin)
    return views.score_document(score(session, tin, parse_year(year), None if npi is None else parse_npi(npi)))


def evidence_document(session: Session, principal: Principal, tin: str, year: int | str) -> list[dict[str, Any]]:
    """`evidence list --tin --year --format json`."""
    tin = _readable(session, principal, tin)
    return views.evidence_document(list_evidence(session, tin=tin, year=parse_year(year)))


def practice_dashboard(session: Session, principal: Principal, tin: str, year: int | str, *, as_of: date) -> Dashboard:
    tin = _readable(session, principal, tin)
    return dashboard(session, tin, year, as_of=as_of)
