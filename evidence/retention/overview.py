"""What `retention show` and the web app's retention page say: each practice-year's window and what keeps it.

It gathers and decides nothing new: the window is rules.cms's, what keeps a year is policy's
(active legal holds, open audit requests), the years are those `purge` goes through.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import Practice
from evidence.retention.policy import AuditHold, active_holds, open_audits, retained_years, retention_years
from evidence.rules import cms


@dataclass(frozen=True)
class YearRetention:
    """One practice's performance year: kept through `retain_until`, purgeable from the day after."""

    tin: str
    year: int
    retain_until: date
    purgeable_from: date
    expired: bool  # its window has ended as of the overview's day
    held_by: list[int] = field(default_factory=list)  # active legal holds
    audits: list[AuditHold] = field(default_factory=list)  # open audit requests

    @property
    def purgeable(self) -> bool:
        return self.expired and not self.held_by and not self.audits

    def keepers(self) -> list[str]:
        """What keeps it past its window, in words."""
        return [f"legal hold #{h}" for h in self.held_by] + [a.describe() for a in self.audits]


@dataclass(frozen=True)
class RetentionOverview:
    as_of: date
    retention_years: int
    years: list[YearRetention]


def retention_overview(session: Session, as_of: date, *, tins: Collection[str] | None = None) -> RetentionOverview:
    """Every practice-year holding records (of `tins` only, when given), by TIN then year."""
    period = retention_years(session)
    tin_of: dict[int, str] = {
        practice_id: tin for practice_id, tin in session.execute(select(Practice.id, Practice.tin))
    }
    rows = []
    for practice_id, year in retained_years(session):
        tin = tin_of[practice_id]
        if tins is not None and tin not in tins:
            continue
        expired = cms.purgeable_on(year, period, as_of)
        rows.append(
            YearRetention(
                tin,
                year,
                cms.retain_until(year, period),
                cms.purgeable_from(year, period),
                expired,
                [h.id for h in active_holds(session, practice_id, year)],
                [AuditHold(a.id, a.reference) for a in open_audits(session, practice_id, year)],
            )
        )
    return RetentionOverview(as_of, period, sorted(rows, key=lambda r: (r.tin, r.year)))
