"""The schema: catalog, practices and clinicians, attestations, evidence.

Designed for the whole tool: later features add columns and tables, not rewrites.
Identifiers users type (TIN, NPI, IA ids) are stored as text exactly as validated;
surrogate integer keys join the tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from evidence.db.types import UTCDateTime, utcnow
from evidence.rules.cms import APM_KINDS, AUDIT_OUTCOMES, DocumentationRule, Program, Weight

# Named constraints, so Alembic's batch mode (SQLite) can drop and recreate them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ids users see or events name are never handed out twice, even after a purge deleted the
# highest ones: AUTOINCREMENT on SQLite (PostgreSQL's sequences never go back anyway).
# The tables that have them are rebuilt by migration 0003, which lists the same names.
NEVER_REUSED: dict[str, object] = {"sqlite_autoincrement": True}


def _sql_values(values: Iterable[str]) -> str:
    """('high', 'medium', 'none') for a CHECK constraint: the enum is the one list of allowed values."""
    return ", ".join(f"'{value}'" for value in values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Setting(Base):
    """Small key/value facts about the store (shipped catalog fingerprint, retention...)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# The SHA-256 of the shipped catalog at its last sync: with the schema revision, the start-up stamp.
SHIPPED_CATALOG_SETTING = "shipped_catalog_sha256"


# --- The IA catalog -------------------------------------------------------------------------


class CatalogYear(Base):
    """One performance year's inventory and where it came from."""

    __tablename__ = "catalog_years"

    performance_year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    weighted: Mapped[bool] = mapped_column(Boolean)
    # "shipped" (evidence/catalog/data/suggested_documentation.yaml) or "imported" (evidence catalog import-qpp).
    source: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(1024))
    source_sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    activities: Mapped[list[Activity]] = relationship(back_populates="catalog_year", order_by="Activity.activity_id")

    __table_args__ = (CheckConstraint("source IN ('shipped', 'imported')", name="source"),)


class Activity(Base):
    """An improvement activity as it stands in one performance year's inventory."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    performance_year: Mapped[int] = mapped_column(ForeignKey("catalog_years.performance_year", ondelete="CASCADE"))
    activity_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(1000))
    subcategory: Mapped[str | None] = mapped_column(String(64))
    # high / medium / none (IA_PCMH) in weighted years; NULL in years scored without weights.
    weight: Mapped[str | None] = mapped_column(String(8))
    # CMS's long description; only filled by import-qpp (it is not copied into the repo).
    description: Mapped[str | None] = mapped_column(Text)
    # CMS's allowedPrograms / allowedRegistrationTypes as space-separated ids ("mips app1 M0001");
    # NULL where CMS published no list for the year (before PY2023; registration types before PY2025).
    allowed_programs: Mapped[str | None] = mapped_column(Text)
    allowed_registration_types: Mapped[str | None] = mapped_column(Text)

    catalog_year: Mapped[CatalogYear] = relationship(back_populates="activities")

    __table_args__ = (
        UniqueConstraint("performance_year", "activity_id"),
        Index("ix_activities_activity_id", "activity_id"),
        CheckConstraint(f"weight IS NULL OR weight IN ({_sql_values(Weight)})", name="weight"),
    )


class DocumentationRequirement(Base):
    """What CMS suggests as documentation for an activity id, and how the items combine."""

    __tablename__ = "documentation_requirements"

    activity_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(8))
    # True where no CMS suggested documentation is known: one generic item stands in.
    generic: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(200))

    items: Mapped[list[DocumentationItem]] = relationship(
        back_populates="requirement", order_by="DocumentationItem.key", cascade="all, delete-orphan"
    )

    __table_args__ = (CheckConstraint(f"rule IN ({_sql_values(DocumentationRule)})", name="rule"),)


class DocumentationItem(Base):
    __tablename__ = "documentation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(ForeignKey("documentation_requirements.activity_id", ondelete="CASCADE"))
    key: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)

    requirement: Mapped[DocumentationRequirement] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("activity_id", "key"),)


# --- Practices, clinicians, attestations ----------------------------------------------------


class Practice(Base):
    """A TIN: the practice that attests."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    # Program, medical-home recognition and APM participation are facts of a year: ReportingYear.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = NEVER_REUSED


class Clinician(Base):
    """An NPI. Which TIN it bills under, and its status inputs, are per year (Membership)."""

    __tablename__ = "clinicians"

    id: Mapped[int] = mapped_column(primary_key=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = NEVER_REUSED


class Membership(Base):
    """A clinician billing under a TIN in one performance year, with special-status inputs."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"))
    performance_year: Mapped[int] = mapped_column(Integer)
    rural: Mapped[bool] = mapped_column(Boolean, default=False)
    hpsa: Mapped[bool] = mapped_column(Boolean, default=False)
    patient_facing_encounters: Mapped[int | None] = mapped_column(Integer)
    hospital_pos_pct: Mapped[float | None] = mapped_column(Float)
    asc_pos_pct: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    practice: Mapped[Practice] = relationship()
    clinician: Mapped[Clinician] = relationship()

    __table_args__ = (
        UniqueConstraint("practice_id", "clinician_id", "performance_year"),
        Index("ix_memberships_practice_year", "practice_id", "performance_year"),
        NEVER_REUSED,
    )


class ReportingYear(Base):
    """How a TIN (group) or one NPI under it (individual) reports a performance year.

    No row: traditional MIPS, no medical home, no APM (evidence.records.reporting.year_status).
    An NPI without a row of its own reports as its TIN's row says.
    """

    __tablename__ = "reporting_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    # NULL: the TIN's own facts (group reporting).
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"))
    performance_year: Mapped[int] = mapped_column(Integer)
    program: Mapped[str] = mapped_column(String(8), default=Program.MIPS.value)
    mvp_id: Mapped[str | None] = mapped_column(String(8))  # CMS's MVP id, only for program mvp
    pcmh: Mapped[bool] = mapped_column(Boolean, default=False)  # recognition attested for the year
    # What the group's 50%-of-sites rule looks at; NULL where only the attestation was recorded.
    pcmh_sites: Mapped[int | None] = mapped_column(Integer)
    recognized_sites: Mapped[int | None] = mapped_column(Integer)
    apm: Mapped[str] = mapped_column(String(8), default="none")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    practice: Mapped[Practice] = relationship()
    clinician: Mapped[Clinician | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"program IN ({_sql_values(Program)})", name="program"),
        CheckConstraint("(program = 'mvp') = (mvp_id IS NOT NULL)", name="mvp_id"),
        CheckConstraint(f"apm IN ({_sql_values(APM_KINDS)})", name="apm"),
        CheckConstraint(
            "(pcmh_sites IS NULL AND recognized_sites IS NULL) OR "
            "(pcmh_sites >= 1 AND recognized_sites >= 0 AND recognized_sites <= pcmh_sites)",
            name="pcmh_sites",
        ),
        # One row per TIN and year, and per NPI under it and year (partial: NULLs never collide).
        Index(
            "uq_reporting_years_group",
            "practice_id",
            "performance_year",
            unique=True,
            sqlite_where=text("clinician_id IS NULL"),
            postgresql_where=text("clinician_id IS NULL"),
        ),
        Index(
            "uq_reporting_years_individual",
            "practice_id",
            "clinician_id",
            "performance_year",
            unique=True,
            sqlite_where=text("clinician_id IS NOT NULL"),
            postgresql_where=text("clinician_id IS NOT NULL"),
        ),
        NEVER_REUSED,
    )


class Attestation(Base):
    """A TIN's (group) or an NPI's (individual) "yes" to an activity for a period."""

    __tablename__ = "attestations"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    # NULL for a group attestation.
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"))
    performance_year: Mapped[int] = mapped_column(Integer)
    activity_pk: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    practice: Mapped[Practice] = relationship()
    clinician: Mapped[Clinician | None] = relationship()
    activity: Mapped[Activity] = relationship()
    participations: Mapped[list[Participation]] = relationship(
        back_populates="attestation", order_by="Participation.id"
    )

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="period_order"),
        # One attestation per activity, year and reporting entity. Two partial indexes because
        # NULLs (group attestations) never collide in a plain unique constraint.
        Index(
            "uq_attestations_group",
            "practice_id",
            "performance_year",
            "activity_pk",
            unique=True,
            sqlite_where=text("clinician_id IS NULL"),
            postgresql_where=text("clinician_id IS NULL"),
        ),
        Index(
            "uq_attestations_individual",
            "practice_id",
            "clinician_id",
            "performance_year",
            "activity_pk",
            unique=True,
            sqlite_where=text("clinician_id IS NOT NULL"),
            postgresql_where=text("clinician_id IS NOT NULL"),
        ),
        Index("ix_attestations_practice_year", "practice_id", "performance_year"),
        NEVER_REUSED,
    )


class Participation(Base):
    """One clinician's own period of performing a group-attested activity (50% rule, 2020+)."""

    __tablename__ = "participations"

    id: Mapped[int] = mapped_column(primary_key=True)
    attestation_id: Mapped[int] = mapped_column(ForeignKey("attestations.id"))
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    attestation: Mapped[Attestation] = relationship(back_populates="participations")
    clinician: Mapped[Clinician] = relationship()

    __table_args__ = (
        UniqueConstraint("attestation_id", "clinician_id"),
        CheckConstraint("end_date >= start_date", name="period_order"),
        NEVER_REUSED,
    )


# --- Evidence -------------------------------------------------------------------------------


class Blob(Base):
    """A stored file's content, addressed by its hash: the same bytes are stored once."""

    __tablename__ = "blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    hash_algorithm: Mapped[str] = mapped_column(String(16), default="sha256")
    digest: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("hash_algorithm", "digest"), NEVER_REUSED)


class Evidence(Base):
    """One registration of a file: its name, what it documents and when the work happened."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"))
    original_name: Mapped[str] = mapped_column(String(1024))
    effective_date: Mapped[date] = mapped_column(Date)  # the day, or the first day of a range
    # The last day a document was in force (a policy); None: a single day (evidence/rules/coverage.py).
    effective_until: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    blob: Mapped[Blob] = relationship()
    links: Mapped[list[EvidenceLink]] = relationship(back_populates="evidence", order_by="EvidenceLink.id")

    __table_args__ = (Index("ix_evidence_blob_id", "blob_id"), NEVER_REUSED)


class EvidenceLink(Base):
    """Ties evidence to an attestation and to the documentation item it satisfies."""

    __tablename__ = "evidence_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    attestation_id: Mapped[int] = mapped_column(ForeignKey("attestations.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("documentation_items.id"))
    # The participating clinician this evidence documents, for group attestations.
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    evidence: Mapped[Evidence] = relationship(back_populates="links")
    attestation: Mapped[Attestation] = relationship()
    item: Mapped[DocumentationItem] = relationship()
    clinician: Mapped[Clinician | None] = relationship()

    __table_args__ = (
        UniqueConstraint("evidence_id", "attestation_id", "item_id"),
        Index("ix_evidence_links_attestation_id", "attestation_id"),
        NEVER_REUSED,
    )


# --- Retention and audit trail --------------------------------------------------------------


class LegalHold(Base):
    """An audit in progress or litigation: keeps what it covers past its retention window."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    # NULL: every performance year of the practice.
    performance_year: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(Text)
    # When someone must look at the hold again (is the audit or the litigation still on?); NULL: not set.
    review_on: Mapped[date | None] = mapped_column(Date)

    practice: Mapped[Practice] = relationship()

    __table_args__ = NEVER_REUSED


class AuditRequest(Base):
    """A CMS data-validation or audit request to a TIN for a performance year, and its clock.

    While open it keeps the TIN's year as a legal hold does. The due date is the current one;
    every move of it is an AuditNote with the dates before and after.
    """

    __tablename__ = "audit_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    performance_year: Mapped[int] = mapped_column(Integer)
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(Text)  # CMS's (the contractor's) request reference
    contact: Mapped[str | None] = mapped_column(Text)  # who answers for the practice (the security official)
    reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(10))
    close_note: Mapped[str | None] = mapped_column(Text)

    practice: Mapped[Practice] = relationship()
    scope: Mapped[list[AuditScopeEntry]] = relationship(order_by="AuditScopeEntry.id")
    journal: Mapped[list[AuditNote]] = relationship(order_by="AuditNote.id")

    __table_args__ = (
        CheckConstraint("due_on >= received_on", name="due_order"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_sql_values(AUDIT_OUTCOMES)})", name="outcome"),
        CheckConstraint("(closed_at IS NULL) = (outcome IS NULL)", name="closed_outcome"),
        Index("ix_audit_requests_practice_year", "practice_id", "performance_year"),
        NEVER_REUSED,
    )


class AuditScopeEntry(Base):
    """One requested activity, for the group (npi NULL) or one NPI audited individually.

    Identifiers, not foreign keys: the request says what CMS asked for even after a correction
    deletes or re-creates the attestation.
    """

    __tablename__ = "audit_scope"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_requests.id"))
    activity_id: Mapped[str] = mapped_column(String(40))
    npi: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (Index("ix_audit_scope_audit", "audit_id"), NEVER_REUSED)


class AuditNote(Base):
    """The audit's dated journal: calls, e-mails, extensions (a moved due date). The close itself
    is on the request (closed_at, outcome, close_note); notes may follow it."""

    __tablename__ = "audit_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_requests.id"))
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    noted_by: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    due_before: Mapped[date | None] = mapped_column(Date)  # set when the note moved the due date
    due_after: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint("(due_before IS NULL) = (due_after IS NULL)", name="due_move"),
        Index("ix_audit_notes_audit", "audit_id"),
        NEVER_REUSED,
    )


# --- Who may sign in: users, their practice grants, API tokens (evidence.access) ----------------


class Role(StrEnum):
    """What a user or token may do (evidence.access.policy holds the permissions of each)."""

    ADMIN = "admin"
    OFFICER = "officer"
    VIEWER = "viewer"


class User(Base):
    """A person who signs in. Never deleted (events name them): disabled instead."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # name.casefold(): "Ann" and "ann" are one user (a unique column is portable; lower() indexes are not).
    name_key: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(200))  # an Argon2id PHC string, never the password
    # Bumped when the password changes or the user is disabled: the web layer's sessions carry the
    # epoch they were signed in at and stop working when it moves.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(f"role IN ({_sql_values(Role)})", name="role"),
        CheckConstraint("(disabled_at IS NULL) = (disabled_by IS NULL)", name="disabled_by"),
        NEVER_REUSED,
    )


class UserPractice(Base):
    """A practice an officer or viewer may see (none at all: every practice, a one-practice install)."""

    __tablename__ = "user_practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))

    __table_args__ = (UniqueConstraint("user_id", "practice_id"), NEVER_REUSED)


class ApiToken(Base):
    """A bearer token for the REST API: its own role and grants, like a user's.

    The secret is 256 random bits, so its SHA-256 is enough (nothing to brute-force, unlike a
    password) and cheap on every request; the presented `evd_<id>_<secret>` is looked up by id.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(f"role IN ({_sql_values(Role)})", name="role"),
        CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked_by"),
        NEVER_REUSED,
    )


class TokenPractice(Base):
    """A practice an officer's or viewer's token may see (none: every practice)."""

    __tablename__ = "token_practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))

    __table_args__ = (UniqueConstraint("token_id", "practice_id"), NEVER_REUSED)


class Tombstone(Base):
    """What a purged record was, so the store can always answer "what happened to this file?"."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # attestation, participation, evidence_link, evidence, blob, ...
    record_id: Mapped[int] = mapped_column(Integer)
    tin: Mapped[str | None] = mapped_column(String(9))
    performance_year: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    retain_until: Mapped[date | None] = mapped_column(Date)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    purged_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_tombstones_kind_record", "kind", "record_id"),
        Index("ix_tombstones_sha256", "sha256"),
        NEVER_REUSED,
    )


class Event(Base):
    """One change to the store. Each event stores the SHA-256 of the previous one (a chain)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    tin: Mapped[str | None] = mapped_column(String(9))
    performance_year: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON: which records
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_events_tin_year", "tin", "performance_year"), NEVER_REUSED)


class AuditHead(Base):
    """The newest event's position and hash, in one row that appenders lock.

    Locking it (SELECT ... FOR UPDATE on PostgreSQL, the write lock on SQLite) keeps the
    chain linear under concurrent writers; it also lets `log verify` notice a deleted tail.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The chain head at `seq`, signed with the store's Ed25519 key (evidence.retention.checkpoint)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    store_id: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
