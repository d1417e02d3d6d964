"""What a practice's dashboard shows for a year: the score, each attested activity's verdict,
the next deadline and the open audit requests. It gathers the services' own answers and judges nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from evidence.records.audits import AuditView, list_audits
from evidence.records.missing import MissingReport, missing_report
from evidence.records.practices import require_known_tin
from evidence.retention.deadlines import Deadline, deadlines
from evidence.rules.identifiers import parse_tin, parse_year
from evidence.rules.scoring import ScoreReport, score


@dataclass(frozen=True)
class Dashboard:
    tin: str
    practice_name: str
    year: int
    as_of: date
    score: ScoreReport  # the group score (the TIN), as `evidence score --tin --year`
    report: MissingReport  # every attestation of the year, group and individual, as `evidence missing`
    next_deadline: Deadline | None  # the soonest dated one not yet passed, of this practice or of every practice
    open_audits: list[AuditView]  # this year's open requests, soonest due first

    @property
    def days_left(self) -> int | None:
        return None if self.next_deadline is None else self.next_deadline.days_left(self.as_of)


def dashboard(session: Session, tin: str, year: int | str, *, as_of: date) -> Dashboard:
    tin, year = parse_tin(tin), parse_year(year)
    practice = require_known_tin(session, tin)
    report = missing_report(session, tin=tin, year=year)  # made once: the score reads its group rows
    upcoming = [d for d in deadlines(session, as_of=as_of, tin=tin) if d.day is not None and d.day >= as_of]
    return Dashboard(
        tin=tin,
        practice_name=practice.name,
        year=year,
        as_of=as_of,
        score=score(session, tin, year, report=report),
        report=report,
        next_deadline=upcoming[0] if upcoming else None,
        open_audits=[a for a in list_audits(session, open_only=True, tin=tin) if a.year == year],
    )
