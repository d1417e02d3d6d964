"""Every date that matters to a practice, soonest first: the one list `evidence deadlines` shows.

- open audit requests' due dates (an overdue one stays listed, marked overdue);
- in the current performance year, the last day an activity can start and still reach its
  minimum: October 3 for 90 days, and each attested activity whose own term makes it earlier;
- the end of each MIPS submission window that has not closed, of the performance years begun
  (evidence.rules.deadlines);
- retention: the last day each TIN's year must be kept and the day it becomes purgeable, within
  RETENTION_HORIZON_DAYS unless `include_all` (a held year says what holds it);
- legal holds: each active hold's review date, and a hold without one (or whose date passed)
  as an undated row, so nobody forgets a hold that keeps records forever.

Every other past date drops off. Each row has a uid that stays the same while the deadline is the
same thing (an audit whose due date moves keeps its uid), so a calendar re-import updates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evidence.db.models import Activity, Attestation, LegalHold, Practice
from evidence.errors import NotFoundError
from evidence.records.audits import AuditView, list_audits
from evidence.retention.policy import active_holds, open_audits, retained_years, retention_years
from evidence.rules import activity_terms, cms
from evidence.rules.deadlines import open_windows
from evidence.rules.identifiers import parse_tin
from evidence.store.identity import database_store_id
from evidence.support.text import plural

# Retention dates further out than this are noise on a to-do list; `include_all` shows them.
RETENTION_HORIZON_DAYS = 366
KINDS = ("audit-due", "latest-start", "submission", "hold-review", "retention-ends", "purgeable", "hold-no-review")


@dataclass(frozen=True)
class Deadline:
    """One date (or, for a hold with no review date, none) and what it means."""

    day: date | None
    kind: str
    title: str
    detail: str
    uid: str
    tin: str | None = None
    year: int | None = None
    overdue: bool = False

    def days_left(self, as_of: date) -> int | None:
        """Calendar days from `as_of`: 0 on the day, negative once overdue, None when undated."""
        return None if self.day is None else (self.day - as_of).days


def _sort_key(row: Deadline) -> tuple[int, date, int, str, int, str]:
    return (row.day is None, row.day or date.max, KINDS.index(row.kind), row.tin or "", row.year or 0, row.uid)


def soonest_first(rows: list[Deadline]) -> list[Deadline]:
    """The order every listing of deadlines uses (undated last)."""
    return sorted(rows, key=_sort_key)


def deadlines(session: Session, *, as_of: date, tin: str | None = None, include_all: bool = False) -> list[Deadline]:
    """Every deadline as of `as_of` (of one TIN, or of every practice), soonest first, undated last."""
    practice_id = None
    if tin is not None:
        tin = parse_tin(tin)
        practice_id = session.scalar(select(Practice.id).where(Practice.tin == tin))
        if practice_id is None:
            raise NotFoundError(f"no practice with TIN {tin}")
    domain = f"{database_store_id(session) or 'store'}.evidence"
    audits = list_audits(session, open_only=True, tin=tin)
    rows = [
        *_audit_rows(audits, as_of, domain),
        *_latest_start_rows(session, as_of, practice_id, domain),
        *_submission_rows(as_of, domain),
        *_retention_rows(session, as_of, practice_id, include_all, domain),
        *_hold_rows(session, as_of, practice_id, domain),
    ]
    return sorted(rows, key=_sort_key)


def _audit_rows(audits: list[AuditView], as_of: date, domain: str) -> list[Deadline]:
    rows = []
    for view in audits:
        left = view.days_left(as_of)
        label = f" ({view.reference})" if view.reference else ""
        state = f"overdue by {plural(-left, 'day')}" if left < 0 else f"received {view.received}"
        rows.append(
            Deadline(
                view.due,
                "audit-due",
                f"Audit #{view.id}{label} response due: {view.tin} PY{view.year}",
                f"{state}; scope: {', '.join(view.activity_ids)}; send the primary-source documents by this day",
                f"audit-{view.id}@{domain}",
                view.tin,
                view.year,
                overdue=left < 0,
            )
        )
    return rows


def _latest_start_rows(session: Session, as_of: date, practice_id: int | None, domain: str) -> list[Deadline]:
    """October 3 for 90 days, and each attested activity whose own term (IA_ERP_1: 6 months) ends earlier."""
    year = as_of.year
    if cms.performance_year_problem(year) or not session.scalar(
        select(func.count()).select_from(Activity).where(Activity.performance_year == year)
    ):
        return []  # no catalog for the year: nothing can be attested for it yet
    general = cms.latest_start(year)
    rows = []
    if as_of <= general:
        rows.append(
            Deadline(
                general,
                "latest-start",
                f"PY{year}: last day to start a {cms.minimum_days(year)}-day activity",
                f"a period starting later cannot reach {cms.minimum_days(year)} consecutive days by December 31",
                f"latest-start-{year}@{domain}",
                year=year,
            )
        )
    query = (
        select(Activity.activity_id, Practice.tin)
        .select_from(Attestation)
        .join(Activity, Activity.id == Attestation.activity_pk)
        .join(Practice, Practice.id == Attestation.practice_id)
        .where(Attestation.performance_year == year)
        .distinct()
    )
    if practice_id is not None:
        query = query.where(Attestation.practice_id == practice_id)
    tins: dict[str, set[str]] = {}
    for activity_id, activity_tin in session.execute(query):
        tins.setdefault(activity_id, set()).add(activity_tin)
    for activity_id, by in sorted(tins.items()):
        start = cms.latest_start(year, activity_id)
        if start >= general or as_of > start:
            continue
        term = activity_terms.term(year, activity_id)
        words = term.words if term else "its own term"
        rows.append(
            Deadline(
                start,
                "latest-start",
                f"PY{year}: last day to start {activity_id} ({words})",
                f"attested by {', '.join(sorted(by))}; CMS's text asks for {words}, which must end by December 31",
                f"latest-start-{year}-{activity_id}@{domain}",
                next(iter(by)) if len(by) == 1 else None,
                year,
            )
        )
    return rows


def _submission_rows(as_of: date, domain: str) -> list[Deadline]:
    rows = []
    for window in open_windows(as_of):
        if window.year > as_of.year:
            continue  # a performance year not yet begun: its window is more than a year away
        facts = [f"closes {window.closing_time}"]
        if window.extended:
            facts.append(f"extended from {window.regular_close}: {window.extension}")
        if not window.verified:
            facts.append(f"NOT VERIFIED: {window.note}; check qpp.cms.gov")
        elif window.note:
            facts.append(window.note)
        rows.append(
            Deadline(
                window.closes,
                "submission",
                f"PY{window.year}: MIPS data submission window closes",
                "; ".join(facts),
                f"submission-{window.year}@{domain}",
                year=window.year,
            )
        )
    return rows


def _retention_rows(
    session: Session, as_of: date, practice_id: int | None, include_all: bool, domain: str
) -> list[Deadline]:
    years = retention_years(session)
    tins = {pid: tin for pid, tin in session.execute(select(Practice.id, Practice.tin))}
    horizon = as_of + timedelta(days=min(RETENTION_HORIZON_DAYS, (date.max - as_of).days))  # --as-of 9999-12-31
    rows = []
    for pid, year in retained_years(session):
        if practice_id is not None and pid != practice_id:
            continue
        until = cms.retain_until(year, years)
        purgeable = cms.purgeable_from(year, years)
        if purgeable < as_of or (not include_all and until > horizon):
            continue
        tin = tins[pid]
        # What purge itself asks (retention.policy): the same holds and open audits keep the year.
        keepers = [f"legal hold #{h.id}" for h in active_holds(session, pid, year)]
        keepers += [f"open audit #{a.id}" for a in open_audits(session, pid, year)]
        kept = f"; kept past it: {', '.join(keepers)}" if keepers else ""
        if as_of <= until:
            rows.append(
                Deadline(
                    until,
                    "retention-ends",
                    f"{tin} PY{year}: last day its records must be kept",
                    f"retention: {plural(years, 'year')} after the performance year{kept}",
                    f"retention-{tin}-{year}@{domain}",
                    tin,
                    year,
                )
            )
        state = f"held, not purgeable{kept}" if keepers else "`evidence purge` may delete it from this day"
        rows.append(
            Deadline(
                purgeable,
                "purgeable",
                f"{tin} PY{year}: {'would become' if keepers else 'becomes'} purgeable",
                state,
                f"purgeable-{tin}-{year}@{domain}",
                tin,
                year,
            )
        )
    return rows


def _hold_rows(session: Session, as_of: date, practice_id: int | None, domain: str) -> list[Deadline]:
    query = select(LegalHold).where(LegalHold.released_at.is_(None)).order_by(LegalHold.id)
    if practice_id is not None:
        query = query.where(LegalHold.practice_id == practice_id)
    rows = []
    for hold in session.scalars(query):
        tin, year = hold.practice.tin, hold.performance_year
        scope = f"{tin} PY{year}" if year else f"{tin} all years"
        title = f"Legal hold #{hold.id} on {scope}: review"
        why = f"reason: {hold.reason}"
        if hold.review_on is not None and hold.review_on >= as_of:
            detail = f"{why}; release it (`evidence hold release`) or move the date (`evidence hold review`)"
            rows.append(Deadline(hold.review_on, "hold-review", title, detail, f"hold-{hold.id}@{domain}", tin, year))
            continue
        missing = f"review date {hold.review_on} passed" if hold.review_on else "no review date set"
        detail = f"{missing}; {why}; set one with `evidence hold review {hold.id} --on DATE --reason TEXT`"
        rows.append(Deadline(None, "hold-no-review", title, detail, f"hold-{hold.id}@{domain}", tin, year))
    return rows
