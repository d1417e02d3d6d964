"""The catalog in the database: sync from the shipped YAML, lookups and listings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from evidence.catalog.model import ActivityFacts, CatalogFile, DocumentationFacts, is_mvp_id, load_catalog_file
from evidence.db.models import (
    SHIPPED_CATALOG_SETTING,
    Activity,
    Attestation,
    CatalogYear,
    DocumentationItem,
    DocumentationRequirement,
    EvidenceLink,
    Setting,
)
from evidence.db.types import utcnow
from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.rules import activity_terms
from evidence.rules.cms import UNWEIGHTED, Weight, latest_start, uses_weights
from evidence.support.resources import shipped_catalog_path, shipped_catalog_sha256

SHIPPED_FINGERPRINT = SHIPPED_CATALOG_SETTING
SUBCATEGORY_NAMES = "subcategory_names"


def activity_sort_key(activity_id: str) -> tuple[tuple[int, int, str], ...]:
    """IA_PSPA_2 before IA_PSPA_10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in activity_id.split("_"))


def shipped_fingerprint() -> str:
    return shipped_catalog_sha256()


def sync_shipped_catalog(session: Session, *, force: bool = False, actor: str = "system") -> bool:
    """Bring the database in line with the shipped catalog; True when anything was applied.

    Cheap when nothing changed: the YAML is only parsed if its fingerprint differs from the
    one recorded at the last sync. Years a user loaded with import-qpp are left alone.
    """
    fingerprint = shipped_fingerprint()
    recorded = session.get(Setting, SHIPPED_FINGERPRINT)
    if recorded is not None and recorded.value == fingerprint and not force:
        return False
    catalog = load_catalog_file(shipped_catalog_path())
    for year in catalog.years.values():
        existing = session.get(CatalogYear, year.year)
        if existing is not None and existing.source == "imported":
            continue
        if existing is None:
            existing = CatalogYear(performance_year=year.year)
            session.add(existing)
        existing.weighted = year.weighted
        existing.source = "shipped"
        existing.source_name = catalog.path.name
        existing.source_sha256 = catalog.sha256
        existing.loaded_at = utcnow()
        session.flush()
        apply_year_activities(session, year.year, year.activities, descriptions=None)
    sync_documentation(session, catalog)
    _set(session, SHIPPED_FINGERPRINT, fingerprint)
    import json

    _set(session, SUBCATEGORY_NAMES, json.dumps(catalog.subcategories, sort_keys=True))
    from evidence.retention import audit

    years = sorted(catalog.years)
    audit.record(session, actor, "catalog.sync", f"shipped IA catalog PY{years[0]}-PY{years[-1]} loaded",
                 details={"sha256": fingerprint})  # fmt: skip
    return True


def _set(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def subcategory_names(session: Session) -> dict[str, str]:
    import json

    row = session.get(Setting, SUBCATEGORY_NAMES)
    return json.loads(row.value) if row else {}


@dataclass(frozen=True)
class YearChange:
    added: int
    updated: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class YearDiff:
    """What making a year's inventory equal a new list would change; computed before anything is written."""

    year: int
    added: tuple[str, ...]
    changed: tuple[tuple[str, tuple[str, ...]], ...]  # (activity id, the fields that differ)
    removed: tuple[str, ...]
    attested_removed: tuple[str, ...]  # removed activities that attestations refer to: never dropped
    unchanged: int


def _ids_text(ids: tuple[str, ...] | None) -> str | None:
    return None if ids is None else " ".join(ids)


def _stored_values(facts: ActivityFacts) -> dict[str, str | None]:
    """The activity's columns as the database keeps them (programs as space-separated ids)."""
    return {
        "title": facts.title,
        "subcategory": facts.subcategory,
        "weight": facts.weight,
        "allowed_programs": _ids_text(facts.programs),
        "allowed_registration_types": _ids_text(facts.registration_types),
    }


def stored_ids(text: str | None) -> tuple[str, ...] | None:
    """Back from the column: None where CMS published no list; () for an empty one."""
    return None if text is None else tuple(text.split())


def diff_year_activities(
    session: Session,
    year: int,
    activities: Iterable[ActivityFacts],
    *,
    descriptions: dict[str, str | None] | None,
) -> YearDiff:
    """Compare `activities` with the stored PY`year` inventory field by field; reads only."""
    current = {a.activity_id: a for a in session.scalars(select(Activity).where(Activity.performance_year == year))}
    wanted = {a.activity_id: a for a in activities}
    added: list[str] = []
    changed: list[tuple[str, tuple[str, ...]]] = []
    for activity_id, facts in wanted.items():
        row = current.get(activity_id)
        if row is None:
            added.append(activity_id)
            continue
        new_values = _stored_values(facts)
        if descriptions is not None:
            new_values["description"] = descriptions.get(activity_id)
        fields = tuple(k for k, v in new_values.items() if getattr(row, k) != v)
        if fields:
            changed.append((activity_id, fields))
    gone = [row for activity_id, row in current.items() if activity_id not in wanted]
    attested: list[str] = []
    if gone:
        attested = list(
            session.scalars(
                select(Activity.activity_id)
                .join(Attestation, Attestation.activity_pk == Activity.id)
                .where(Activity.id.in_([row.id for row in gone]))
                .distinct()
            )
        )
    return YearDiff(
        year,
        added=tuple(sorted(added, key=activity_sort_key)),
        changed=tuple(sorted(changed, key=lambda pair: activity_sort_key(pair[0]))),
        removed=tuple(sorted((row.activity_id for row in gone), key=activity_sort_key)),
        attested_removed=tuple(sorted(attested, key=activity_sort_key)),
        unchanged=len(wanted) - len(added) - len(changed),
    )


def apply_year_activities(
    session: Session,
    year: int,
    activities: Iterable[ActivityFacts],
    *,
    descriptions: dict[str, str | None] | None,
) -> YearChange:
    """Make the year's inventory equal `activities`, keeping row ids (attestations point at them)."""
    current = {a.activity_id: a for a in session.scalars(select(Activity).where(Activity.performance_year == year))}
    wanted = {a.activity_id: a for a in activities}
    added = updated = unchanged = 0
    for activity_id, facts in wanted.items():
        row = current.get(activity_id)
        description = descriptions.get(activity_id) if descriptions is not None else None
        if row is None:
            session.add(
                Activity(
                    performance_year=year, activity_id=activity_id, description=description, **_stored_values(facts)
                )
            )
            added += 1
            continue
        new_values = _stored_values(facts)
        if descriptions is not None:
            new_values["description"] = description
        if any(getattr(row, k) != v for k, v in new_values.items()):
            for k, v in new_values.items():
                setattr(row, k, v)
            updated += 1
        else:
            unchanged += 1
    gone = [row for activity_id, row in current.items() if activity_id not in wanted]
    if gone:
        attested = session.scalars(
            select(Activity.activity_id)
            .join(Attestation, Attestation.activity_pk == Activity.id)
            .where(Activity.id.in_([row.id for row in gone]))
            .distinct()
        ).all()
        if attested:
            raise ConflictError(
                f"PY{year}: cannot drop {', '.join(sorted(attested, key=activity_sort_key))} from the "
                "inventory: attestations refer to it"
            )
        for row in gone:
            session.delete(row)
    session.flush()
    return YearChange(added, updated, len(gone), unchanged)


def sync_documentation(session: Session, catalog: CatalogFile) -> None:
    """Give every activity id in any year its documentation requirement and items.

    Items are updated in place by key, so evidence already linked to item 2 stays linked.
    """
    all_ids = set(session.scalars(select(Activity.activity_id).distinct()))
    existing = {
        r.activity_id: r
        for r in session.scalars(select(DocumentationRequirement).options(selectinload(DocumentationRequirement.items)))
    }
    for activity_id in all_ids:
        _apply_requirement(session, catalog.documentation_for(activity_id), existing.get(activity_id), catalog.source)
    session.flush()


def ensure_requirements(session: Session, activity_ids: Iterable[str]) -> None:
    """New activity ids (from an import) get the shipped documentation, or the generic item."""
    missing = set(activity_ids) - set(session.scalars(select(DocumentationRequirement.activity_id)))
    if not missing:
        return
    catalog = load_catalog_file(shipped_catalog_path())
    for activity_id in missing:
        _apply_requirement(session, catalog.documentation_for(activity_id), None, catalog.source)
    session.flush()


def _apply_requirement(
    session: Session, facts: DocumentationFacts, row: DocumentationRequirement | None, source: str
) -> None:
    source_text = "generic" if facts.generic else source
    if row is None:
        row = DocumentationRequirement(
            activity_id=facts.activity_id, rule=facts.rule, generic=facts.generic, source=source_text
        )
        session.add(row)
    row.rule, row.generic, row.source = facts.rule, facts.generic, source_text
    by_key = {item.key: item for item in row.items}
    for item in facts.items:
        current = by_key.pop(item.key, None)
        if current is None:
            row.items.append(DocumentationItem(key=item.key, label=item.label, description=item.description))
        else:
            current.label, current.description = item.label, item.description
    for leftover in by_key.values():
        if leftover.id is not None and session.scalar(
            select(func.count()).select_from(EvidenceLink).where(EvidenceLink.item_id == leftover.id)
        ):
            raise ConflictError(
                f"{facts.activity_id}: documentation item {leftover.key} has linked evidence and cannot be removed"
            )
        row.items.remove(leftover)


# --- Lookups ---------------------------------------------------------------------------------


def catalog_years(session: Session) -> list[int]:
    return list(session.scalars(select(CatalogYear.performance_year).order_by(CatalogYear.performance_year)))


def require_year(session: Session, year: int) -> CatalogYear:
    row = session.get(CatalogYear, year)
    if row is None:
        years = catalog_years(session)
        span = f"{years[0]}-{years[-1]}" if years else "none"
        raise InputError(
            f"no IA inventory for performance year {year} (loaded: {span}); load it with `evidence catalog import-qpp`"
        )
    return row


def require_activity(session: Session, activity_id: str, year: int) -> Activity:
    """The activity as it stands in `year`; an activity absent that year cannot be attested."""
    require_year(session, year)
    row = session.scalar(select(Activity).where(Activity.performance_year == year, Activity.activity_id == activity_id))
    if row is None:
        years = sorted(session.scalars(select(Activity.performance_year).where(Activity.activity_id == activity_id)))
        hint = f" (it is in PY{', PY'.join(map(str, years))})" if years else " (no year's inventory has it)"
        raise InputError(f"activity {activity_id} is not in the PY{year} inventory{hint}")
    return row


def allowed_programs(session: Session, activity_id: str, year: int) -> tuple[str, ...] | None:
    """CMS's allowedPrograms for the activity in `year` (mips, app1, MVP ids); None where CMS lists none."""
    return stored_ids(require_activity(session, activity_id, year).allowed_programs)


def year_mvp_ids(session: Session, year: int) -> frozenset[str] | None:
    """The MVP ids CMS's inventory names for `year` (in its activities' allowedPrograms); None where it names none.

    CMS publishes no separate list of a year's MVPs; the inventory's allowedPrograms is where each
    year's set shows (M0003 and G0056 are gone from PY2025's, M1420-M1425 new in it).
    """
    rows = session.scalars(
        select(Activity.allowed_programs).where(
            Activity.performance_year == year, Activity.allowed_programs.is_not(None)
        )
    )
    ids = frozenset(program for text in rows for program in (stored_ids(text) or ()) if is_mvp_id(program))
    return ids or None


def allowed_registration_types(session: Session, activity_id: str, year: int) -> tuple[str, ...] | None:
    """CMS's allowedRegistrationTypes for the activity in `year`; None where CMS lists none (before PY2025)."""
    return stored_ids(require_activity(session, activity_id, year).allowed_registration_types)


def requirement_for(session: Session, activity_id: str) -> DocumentationRequirement:
    row = session.scalar(
        select(DocumentationRequirement)
        .options(selectinload(DocumentationRequirement.items))
        .where(DocumentationRequirement.activity_id == activity_id)
    )
    if row is None:  # only if the catalog was never synced for this id
        raise NotFoundError(f"no documentation requirement for {activity_id}")
    return row


@dataclass(frozen=True)
class ActivityListing:
    year: int
    activity_id: str
    title: str
    subcategory: str | None
    weight: str | None
    rule: str
    items: int
    generic: bool
    suspended_since: date | None = None  # CMS suspended it that year (rules.activity_terms.SUSPENSIONS)


def list_activities(
    session: Session, year: int, *, subcategory: str | None = None, weight: str | None = None
) -> list[ActivityListing]:
    """A year's activities; `weight` is high, medium, none (weighted years) or `unweighted` (the others)."""
    require_year(session, year)
    if weight is not None:
        _check_weight_filter(year, weight)
    item_counts = (
        select(DocumentationItem.activity_id, func.count().label("n"))
        .group_by(DocumentationItem.activity_id)
        .subquery()
    )
    query = (
        select(Activity, DocumentationRequirement, item_counts.c.n)
        .join(DocumentationRequirement, DocumentationRequirement.activity_id == Activity.activity_id)
        .join(item_counts, item_counts.c.activity_id == Activity.activity_id)
        .where(Activity.performance_year == year)
    )
    if subcategory is not None:
        query = query.where(Activity.subcategory == subcategory)
    if weight == UNWEIGHTED:
        query = query.where(Activity.weight.is_(None))
    elif weight is not None:
        query = query.where(Activity.weight == weight)
    rows = [
        ActivityListing(
            year,
            a.activity_id,
            a.title,
            a.subcategory,
            a.weight,
            r.rule,
            n,
            r.generic,
            suspended.since if (suspended := activity_terms.suspension(year, a.activity_id)) else None,
        )
        for a, r, n in session.execute(query)
    ]
    return sorted(rows, key=lambda row: activity_sort_key(row.activity_id))


def _check_weight_filter(year: int, weight: str) -> None:
    """A weight filter that cannot match the year's scoring is a mistake, not an empty list."""
    known = [*Weight, UNWEIGHTED]
    if weight not in known:
        raise InputError(f"weight {weight!r} is not one of {', '.join(known)}")
    if uses_weights(year) and weight == UNWEIGHTED:
        raise InputError(f"PY{year} weights its activities: use --weight {', '.join(Weight)}")
    if not uses_weights(year) and weight != UNWEIGHTED:
        raise InputError(f"PY{year} scores activities without weights: every activity is {UNWEIGHTED}")


@dataclass(frozen=True)
class ActivityDetail:
    activity_id: str
    years: list[Activity]
    requirement: DocumentationRequirement
    # What the activity's own CMS text sets in those years (rules.activity_terms), one row per span.
    terms: tuple[activity_terms.Term, ...] = ()
    schedules: tuple[activity_terms.Schedule, ...] = ()
    suspensions: tuple[activity_terms.Suspension, ...] = ()

    def latest_start(self, year: int) -> date:
        return latest_start(year, self.activity_id)

    def _row(self, year: int) -> Activity:
        return next(row for row in self.years if row.performance_year == year)

    def programs(self, year: int) -> tuple[str, ...] | None:
        """CMS's allowedPrograms that year; None where CMS lists none."""
        return stored_ids(self._row(year).allowed_programs)

    def programs_and_mvps(self, year: int) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """The programs (mips, app1, ...) and the MVP ids apart, for display; None where CMS lists none."""
        programs = self.programs(year)
        if programs is None:
            return None
        return tuple(p for p in programs if not is_mvp_id(p)), tuple(p for p in programs if is_mvp_id(p))

    def registration_types(self, year: int) -> tuple[str, ...] | None:
        return stored_ids(self._row(year).allowed_registration_types)


def activity_detail(session: Session, activity_id: str, year: int | None = None) -> ActivityDetail:
    if year is not None:
        years = [require_activity(session, activity_id, year)]
    else:
        years = list(
            session.scalars(
                select(Activity).where(Activity.activity_id == activity_id).order_by(Activity.performance_year)
            )
        )
        if not years:
            raise NotFoundError(f"activity {activity_id} is in no performance year's inventory")
    shown = [row.performance_year for row in years]
    found_terms = {t for y in shown if (t := activity_terms.term(y, activity_id))}
    found_schedules = {x for y in shown if (x := activity_terms.schedule(y, activity_id))}
    return ActivityDetail(
        activity_id,
        years,
        requirement_for(session, activity_id),
        terms=tuple(sorted(found_terms, key=lambda t: t.first_year)),
        schedules=tuple(sorted(found_schedules, key=lambda s: s.first_year)),
        suspensions=tuple(z for y in shown if (z := activity_terms.suspension(y, activity_id))),
    )
