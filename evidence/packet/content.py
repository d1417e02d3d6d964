"""The audit-ready packet: one PDF per TIN (or NPI under it) and performance year.

Cover, contents, summary (special statuses, score claimed / documented / at risk, each
activity's credit verdict and documentation status), one section per
attested activity with the evidence behind each suggested-documentation item, the evidence
manifest and the retention statement; the evidence files themselves ride along as PDF
attachments. The same database and the same `generated_at` give the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence import __version__
from evidence.db.models import Practice
from evidence.errors import InputError, NotFoundError
from evidence.packet.archive import (
    ManifestRow,
    WrittenZip,
    canonical_manifest,
    manifest_rows,
    read_verified,
    write_zip,
)
from evidence.records.missing import ActivityStatus, DocumentationStatus, missing_report
from evidence.retention.policy import active_holds, open_audits, retention_years
from evidence.rules import cms as rules
from evidence.rules.identifiers import parse_npi, parse_tin, parse_year
from evidence.rules.scoring import ActivityScore, ScoreReport, score
from evidence.rules.status import SpecialStatus, special_statuses
from evidence.store.blobstore import BlobStore
from evidence.support.outputs import OutputGuard, OutputTarget

if TYPE_CHECKING:  # WeasyPrint is imported only to render
    from evidence.packet.render import EmbeddedFile


@dataclass(frozen=True)
class HoldView:
    id: int
    scope: str
    reason: str
    placed_by: str
    placed_on: date


@dataclass(frozen=True)
class AuditAnchor:
    """The audit chain the packet was made under: up to its newest event that changed a record.

    Events that only record an output (a packet's own, a QPP export) are left out, so the same
    records and `generated_at` give the same packet however often it is made. key_id None: the
    chain was not signed at that event.
    """

    events: int
    head_hash: str
    key_id: str | None = None
    signed_at: datetime | None = None
    at: datetime | None = None  # when that event happened (None: no event yet)


def read_audit_anchor(session: Session) -> AuditAnchor:
    from evidence.retention.audit import GENESIS, checkpoint_at, newest_record_event

    event = newest_record_event(session)
    if event is None:
        return AuditAnchor(0, GENESIS)
    at = as_utc(event.occurred_at)
    checkpoint = checkpoint_at(session, event.seq, event.hash)
    if checkpoint is None:
        return AuditAnchor(event.seq, event.hash, at=at)
    return AuditAnchor(event.seq, event.hash, checkpoint.key_id, checkpoint.signed_at, at)


def check_generated_at(generated_at: datetime, audit: AuditAnchor) -> None:
    """A packet may not be dated before the newest change it reports: it would claim records not yet made."""
    if audit.at is None:
        return
    newest = audit.at.replace(microsecond=0)  # generation times are whole seconds
    if as_utc(generated_at) < newest:
        raise InputError(
            f"--generated-at {_moment(generated_at)} is before {_moment(newest)}, the time of audit event "
            f"#{audit.events}, the newest change this packet reports: a packet cannot be dated before the "
            "records it shows (give a later time, or leave --generated-at out for now)"
        )


def _moment(value: datetime) -> str:
    return f"{as_utc(value):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class PacketContent:
    """Everything the packet says, read in one session; rendering needs no database."""

    tin: str
    practice_name: str
    year: int
    npi: str | None
    clinician_name: str | None
    generated_at: datetime
    activities: list[ActivityStatus]
    score: ScoreReport
    statuses: list[SpecialStatus]  # at the packet's reporting level, applying or not
    manifest: list[ManifestRow]
    attachments_embedded: bool
    retention_years: int
    holds: list[HoldView]
    tool_version: str = __version__
    audit: AuditAnchor = AuditAnchor(0, "0" * 64)  # read_packet_content reads the real one
    # One part of an audit response (evidence.packet.response), named "group" or "npi-<NPI>": several
    # parts share one PDF, so its anchors carry the name; None for the packet itself, whose HTML it leaves alone.
    part: str | None = None
    # Open audit requests keeping this TIN-year (retention.policy `open_audits`), in words: Appendix B
    # must not read as if nothing held the records while CMS is reviewing them.
    audit_holds: tuple[str, ...] = ()

    @property
    def anchor_prefix(self) -> str:
        return f"{self.part}-" if self.part else ""

    def file_anchor(self, attestation_id: int, item: int, evidence_id: int) -> str:
        """The anchor of one evidence row of an activity's item: the page map finds its page by it."""
        return f"{self.anchor_prefix}file-{attestation_id}-{item}-{evidence_id}"

    @property
    def level(self) -> str:
        return "individual" if self.npi else "group"

    @cached_property
    def manifest_json(self) -> bytes:
        return canonical_manifest(self.manifest)

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_json).hexdigest()

    @property
    def score_maximum(self) -> int:
        return rules.full_credit_points(self.year)

    @property
    def retain_until(self) -> date:
        return rules.retain_until(self.year, self.retention_years)

    @cached_property
    def activity_scores(self) -> dict[str, ActivityScore]:
        return {a.activity_id: a for a in self.score.activities}

    @cached_property
    def _attachment_names(self) -> dict[int, str]:
        return {row.evidence.id: row.file_name for row in self.manifest} if self.attachments_embedded else {}

    def attachment_name(self, evidence_id: int) -> str | None:
        """The name the evidence file is embedded under (its rows link to it); None in a light copy."""
        return self._attachment_names.get(evidence_id)

    def count(self, status: DocumentationStatus | str) -> int:
        """Activities with this documentation status (the templates name it by its value)."""
        return sum(1 for a in self.activities if a.status == status)

    @property
    def creditable_count(self) -> int:
        """Activities whose credit verdict holds (evidence.rules.credit): the badges read the same verdict."""
        return sum(1 for a in self.activities if a.creditable)


@dataclass(frozen=True)
class Packet:
    content: PacketContent
    pdf: bytes
    pages: int
    attachments: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


def as_utc(moment: datetime) -> datetime:
    """Naive times are taken as UTC; aware ones are converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_packet_content(
    session: Session,
    tin: str,
    year: int,
    npi: str | None = None,
    *,
    generated_at: datetime,
    attachments: bool = True,
) -> PacketContent:
    """Gather the packet's facts; InputError / NotFoundError when there is nothing to hand over."""
    tin, year = parse_tin(tin), parse_year(year)
    npi = parse_npi(npi) if npi else None
    # score() validates the TIN, the year and that the NPI bills under the TIN.
    score_report = score(session, tin, year, npi)
    statuses = special_statuses(session, tin, year, npi).at_level()
    report = missing_report(session, tin=tin, year=year, npi=npi, details=True)
    activities = [a for a in report.activities if a.npi == npi]  # a group packet leaves out individual ones
    if not activities:
        raise InputError(_nothing_attested(tin, year, npi, report.activities))
    first = activities[0]
    practice_id = session.scalar(select(Practice.id).where(Practice.tin == tin))
    if practice_id is None:  # score() has checked the TIN; only a concurrent purge gets here
        raise NotFoundError(f"no practice with TIN {tin}")
    audit = read_audit_anchor(session)
    check_generated_at(generated_at, audit)
    holds = [
        HoldView(h.id, f"PY{h.performance_year}" if h.performance_year else "all years", h.reason, h.created_by,
                 h.created_at.date())
        for h in active_holds(session, practice_id, year)
    ]  # fmt: skip
    return PacketContent(
        tin=tin,
        practice_name=first.practice_name,
        year=year,
        npi=npi,
        clinician_name=first.clinician_name,
        generated_at=as_utc(generated_at),
        activities=activities,
        score=score_report,
        statuses=statuses,
        manifest=manifest_rows(activities),
        attachments_embedded=attachments,
        retention_years=retention_years(session),
        holds=holds,
        audit=audit,
        audit_holds=tuple(
            f"audit request #{a.id}"
            + (f" ({a.reference})" if a.reference else "")
            + f", received {a.received_on.isoformat()}, response due {a.due_on.isoformat()}"
            for a in open_audits(session, practice_id, year)
        ),
    )


def _nothing_attested(tin: str, year: int, npi: str | None, others: list[ActivityStatus]) -> str:
    who = f"NPI {npi} under TIN {tin}" if npi else f"TIN {tin} (group reporting)"
    message = f"no attestations for {who} in PY{year}: there is nothing to put in a packet"
    individual_npis = sorted({a.npi for a in others if a.npi})
    if not npi and individual_npis:
        message += f"; for an individual packet add --npi ({', '.join(individual_npis)} attested)"
    return message


def build_packet(
    session: Session,
    store: BlobStore,
    tin: str,
    year: int,
    npi: str | None = None,
    *,
    generated_at: datetime | None = None,
    attachments: bool = True,
) -> Packet:
    """Render the packet PDF in memory; write it with `write_packet` (and `write_packet_zip`).

    Only reads: `read_packet_content` in the session, then `render_packet`, which needs no database.
    """
    when = as_utc(generated_at or datetime.now(UTC).replace(microsecond=0))
    content = read_packet_content(session, tin, year, npi, generated_at=when, attachments=attachments)
    return render_packet(content, store)


def render_packet(content: PacketContent, store: BlobStore) -> Packet:
    """The PDF for gathered content; each evidence file is read from the store and checked against its SHA-256."""
    from evidence.packet.render import render_html, render_pdf

    embedded = embedded_files(content, store)
    rendered = render_pdf(
        render_html(packet=content),
        generated_at=content.generated_at,
        attachments=embedded,
        identifier=packet_identifier(content),
    )
    return Packet(content, rendered.data, rendered.pages, len(embedded))


def embedded_files(content: PacketContent, store: BlobStore) -> list[EmbeddedFile]:
    """The evidence files the PDF embeds (none in a light copy), each re-hashed against its SHA-256."""
    from evidence.packet.render import EmbeddedFile

    return [
        EmbeddedFile(
            name=row.file_name,
            description=f"SHA-256 {row.evidence.digest}: {row.evidence.description or row.evidence.name}",
            data=read_verified(store, row),
            timestamp=row.evidence.registered_at,
        )
        for row in (content.manifest if content.attachments_embedded else [])
    ]


def packet_identifier(content: PacketContent) -> bytes:
    """A stable file identifier: the same inputs name the same document."""
    identity = (
        f"{content.tin}|{content.year}|{content.npi}|{content.generated_at.isoformat()}|{content.manifest_sha256}"
    )
    return hashlib.sha256(identity.encode()).digest()[:16]


@dataclass(frozen=True)
class WrittenOutput:
    """One file handed out: what it is, where it went (as the user named it), its SHA-256 and size."""

    kind: str  # "pdf" or "zip"
    target: str
    sha256: str
    size: int


def record_packet(session: Session, packet: Packet, outputs: list[WrittenOutput], *, actor: str) -> None:
    """The `packet.generate` event, once the outputs are written: what was handed out, to whom, under which chain.

    Not one of the events the packet reports (evidence.retention.audit.OUTPUT_ACTIONS), so the next
    identical request still gives the same bytes.
    """
    from evidence.retention.audit import PACKET_ACTION, record

    content = packet.content
    who = f"NPI {content.npi} under TIN {content.tin}" if content.npi else f"TIN {content.tin} (group)"
    where = ", ".join(f"{o.kind.upper()} to {o.target}" for o in outputs)
    record(
        session,
        actor,
        PACKET_ACTION,
        f"packet of {who}, PY{content.year}, generated at {content.generated_at.isoformat()}: {where}",
        tin=content.tin,
        year=content.year,
        details={
            "npi": content.npi,
            "generated_at": content.generated_at.isoformat(),
            "pdf_sha256": packet.sha256,
            "manifest_sha256": content.manifest_sha256,
            "pages": packet.pages,
            "attachments": packet.attachments,
            "evidence_files": len(content.manifest),
            "audit_event": content.audit.events,
            "audit_head": content.audit.head_hash,
            "audit_key_id": content.audit.key_id,
            "outputs": [{"kind": o.kind, "target": o.target, "sha256": o.sha256, "size": o.size} for o in outputs],
        },
    )


def _as_target(path: Path | OutputTarget, what: str) -> OutputTarget:
    """A bare path (the demo, the benchmarks) replaces a regular file but never a link, device or FIFO."""
    if isinstance(path, OutputTarget):
        return path
    return OutputGuard().target(Path(path), force=True, what=what)


def write_packet(packet: Packet, path: Path | OutputTarget) -> None:
    """Owner-only (0600), renamed into place: a killed run never leaves half a PDF at `path`.

    Pass an `OutputTarget` checked by the store's `OutputGuard` (the CLI does) to refuse the
    home folder, the store, the database and existing files without --force.
    """
    _as_target(path, "the PDF").write_bytes(packet.pdf)


def write_packet_zip(packet: Packet, store: BlobStore, path: Path | OutputTarget, *, pdf_name: str) -> WrittenZip:
    """The PDF, manifest.json and every evidence file as `evidence/<id>-<name>`; its entry count and SHA-256."""
    return write_zip(
        _as_target(path, "the ZIP"),
        pdf_name=pdf_name,
        pdf=packet.pdf,
        manifest=packet.content.manifest_json,
        rows=packet.content.manifest,
        store=store,
        timestamp=packet.content.generated_at,
    )
