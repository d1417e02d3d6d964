"""What `audit show` says about a request: its clock, and for each requested activity the credit
verdict and what is still missing, as evidence.records.missing reports it (never judged here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from evidence.records.audits import AuditView, ScopeEntry, get_audit
from evidence.records.missing import ActivityStatus, missing_report

NO_LONGER_ATTESTED = "no longer attested"


@dataclass(frozen=True)
class ScopeStatus:
    """One requested activity as the records stand: `activity` None when its attestation was deleted
    since the request (the response cannot document it; the packet refuses it)."""

    entry: ScopeEntry
    activity: ActivityStatus | None

    @property
    def attested(self) -> bool:
        return self.activity is not None

    @property
    def creditable(self) -> bool:
        return self.activity is not None and self.activity.creditable

    @property
    def verdict(self) -> str:
        """ "creditable", "not creditable: <reasons>", or "no longer attested"."""
        return self.activity.verdict.summary if self.activity is not None else NO_LONGER_ATTESTED

    @property
    def missing(self) -> str:
        """The documentation still needed, in words; empty when complete."""
        if self.activity is None:
            return "its attestation was deleted after the request: nothing in the store documents it"
        return self.activity.missing_text


@dataclass(frozen=True)
class AuditReport:
    audit: AuditView
    as_of: date
    scope: tuple[ScopeStatus, ...]

    @property
    def days_left(self) -> int:
        return self.audit.days_left(self.as_of)

    @property
    def overdue(self) -> bool:
        return self.audit.overdue(self.as_of)

    @property
    def ready(self) -> bool:
        """Every requested activity is still attested and creditable: the response can go out whole."""
        return all(status.creditable for status in self.scope)

    @property
    def problems(self) -> list[str]:
        """Each requested activity that is not ready, in one line."""
        return [
            f"{_who(status.entry)} {status.entry.activity_id}: {status.verdict}"
            for status in self.scope
            if not status.creditable
        ]


def _who(entry: ScopeEntry) -> str:
    return f"NPI {entry.npi}" if entry.npi else "group"


def audit_report(session: Session, audit_id: int, *, as_of: date) -> AuditReport:
    """The request, its clock on `as_of`, and each scope entry's status from the missing report."""
    view = get_audit(session, audit_id)
    report = missing_report(session, tin=view.tin, year=view.year)
    by_entry = {(a.activity_id, a.npi): a for a in report.activities}
    scope = tuple(ScopeStatus(entry, by_entry.get((entry.activity_id, entry.npi))) for entry in view.scope)
    return AuditReport(view, as_of, scope)
