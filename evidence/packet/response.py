"""The response to a CMS audit request: a cover letter, then the packet limited to the scope, in one PDF.

The scope names activities for the group (npi None) and/or NPIs audited individually. Each
reporting entity in scope is one *part*: the PacketContent of `read_packet_content` for that
entity, limited to its requested activities, rendered by the packet's own templates after the
cover letter, so the hashes, attachments, audit checkpoint and layout are the packet's. Parts'
anchors carry the part's name, so one PDF holds several with one outline and one page count; the
laid-out document says on which page each activity section and evidence row starts (the page map
the answer workbook prints).

What is creditable comes from the missing-documentation report (each activity's verdict), never
judged here: a scope with an activity that is not creditable is refused unless the caller allows an
incomplete response, which the cover letter then marks.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy.orm import Session

from evidence import __version__
from evidence.errors import InputError
from evidence.packet.archive import ManifestRow, WrittenZip, canonical_manifest, manifest_rows, write_zip
from evidence.packet.content import (
    PacketContent,
    WrittenOutput,
    as_utc,
    embedded_files,
    read_packet_content,
)
from evidence.records.audits import AuditView, ScopeEntry, get_audit
from evidence.records.missing import ActivityStatus, missing_report
from evidence.store.blobstore import BlobStore
from evidence.support.outputs import OutputTarget

RESPONSE_TEMPLATE = "response.html"


def describe_entry(entry: ScopeEntry, tin: str) -> str:
    """ "IA_PM_7 (group, TIN 000123456)" or "IA_BE_4 (NPI 1234567893)"."""
    return f"{entry.activity_id} ({f'NPI {entry.npi}' if entry.npi else f'group, TIN {tin}'})"


@dataclass(frozen=True)
class ScopeLine:
    """One requested activity and what the report says of it."""

    entry: ScopeEntry
    activity: ActivityStatus

    @property
    def missing(self) -> str | None:
        """What keeps it from being creditable, in the verdict's own words; None when creditable."""
        if self.activity.creditable:
            return None
        return "; ".join(self.activity.verdict.reasons) or (self.activity.missing_text or "not creditable")


@dataclass(frozen=True)
class ResponseContent:
    """Everything the response says, read in one session; rendering needs no database."""

    audit: AuditView
    generated_at: datetime
    parts: tuple[PacketContent, ...]  # the group first, then each NPI in request order
    lines: tuple[ScopeLine, ...]  # the scope in request order
    incomplete_allowed: bool
    tool_version: str = __version__

    @property
    def missing(self) -> list[str]:
        """One line per requested activity that is not creditable: which one, and why."""
        return [f"{describe_entry(line.entry, self.audit.tin)}: {line.missing}" for line in self.lines if line.missing]

    @property
    def incomplete(self) -> bool:
        return any(line.missing for line in self.lines)

    @property
    def attachments_embedded(self) -> bool:
        return self.parts[0].attachments_embedded

    @cached_property
    def manifest(self) -> list[ManifestRow]:
        """Every evidence file of every part once (a file can back the group and an NPI)."""
        return manifest_rows(activity for part in self.parts for activity in part.activities)

    @cached_property
    def manifest_json(self) -> bytes:
        return canonical_manifest(self.manifest)

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_json).hexdigest()

    @property
    def footer(self) -> str:
        label = self.audit.reference or f"#{self.audit.id}"
        return f"Audit response {label} · TIN {self.audit.tin} · PY{self.audit.year}"


def read_response_content(
    session: Session,
    audit_id: int,
    *,
    generated_at: datetime,
    attachments: bool = True,
    allow_incomplete: bool = False,
) -> ResponseContent:
    """The response's facts. Refused (InputError, one line, then one line per problem) when a
    requested attestation no longer exists, or, unless `allow_incomplete`, is not creditable."""
    audit = get_audit(session, audit_id)
    if not audit.scope:  # open_audit never records one; a hand-edited database might
        raise InputError(f"audit #{audit.id} names no activity: there is nothing to respond with")
    _refuse_vanished(session, audit)
    entities: list[str | None] = ([None] if any(e.npi is None for e in audit.scope) else []) + list(audit.npis)
    parts: list[PacketContent] = []
    found: dict[ScopeEntry, ActivityStatus] = {}
    for npi in entities:
        whole = read_packet_content(
            session, audit.tin, audit.year, npi, generated_at=generated_at, attachments=attachments
        )
        wanted = {e.activity_id for e in audit.scope if e.npi == npi}
        activities = [a for a in whole.activities if a.activity_id in wanted]
        found.update((ScopeEntry(a.activity_id, npi), a) for a in activities)
        parts.append(
            dataclasses.replace(
                whole,
                activities=activities,
                manifest=manifest_rows(activities),
                part=f"npi-{npi}" if npi else "group",
            )
        )
    content = ResponseContent(
        audit=audit,
        generated_at=as_utc(generated_at),
        parts=tuple(parts),
        lines=tuple(ScopeLine(entry, found[entry]) for entry in audit.scope),
        incomplete_allowed=allow_incomplete,
    )
    if content.incomplete and not allow_incomplete:
        missing = content.missing
        raise InputError(
            f"audit #{audit.id}: {len(missing)} of {len(audit.scope)} requested activities are not creditable, so "
            "no response was written (add --allow-incomplete to write it marked INCOMPLETE on the cover):",
            details=missing,
        )
    return content


def _refuse_vanished(session: Session, audit: AuditView) -> None:
    """A requested attestation deleted since the request was opened: the response cannot answer for it."""
    report = missing_report(session, tin=audit.tin, year=audit.year)
    attested = {ScopeEntry(a.activity_id, a.npi) for a in report.activities}
    gone = [entry for entry in audit.scope if entry not in attested]
    if gone:
        raise InputError(
            f"audit #{audit.id}: {len(gone)} requested attestation{'s' if len(gone) > 1 else ''} of PY{audit.year} "
            f"no longer exist{'' if len(gone) > 1 else 's'} (deleted after the request was opened); no response was "
            "written:",
            details=[f"{describe_entry(entry, audit.tin)}: not attested any more" for entry in gone],
        )


@dataclass(frozen=True)
class ResponsePacket:
    content: ResponseContent
    pdf: bytes
    pages: int
    attachments: int
    anchors: dict[str, int]  # HTML id -> the 1-based PDF page where its box starts

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

    def section_page(self, activity: ActivityStatus) -> int:
        """The page where the activity's section starts."""
        return self.anchors[f"attestation-{activity.attestation_id}"]

    def file_page(self, part: PacketContent, activity: ActivityStatus, item: int, evidence_id: int) -> int:
        """The page where the evidence file's row under that item of that activity starts."""
        return self.anchors[part.file_anchor(activity.attestation_id, item, evidence_id)]


def build_response(
    session: Session,
    store: BlobStore,
    audit_id: int,
    *,
    generated_at: datetime | None = None,
    attachments: bool = True,
    allow_incomplete: bool = False,
) -> ResponsePacket:
    """Read the response's content, then render its PDF in memory (write it with the functions below)."""
    when = as_utc(generated_at or datetime.now(UTC).replace(microsecond=0))
    content = read_response_content(
        session, audit_id, generated_at=when, attachments=attachments, allow_incomplete=allow_incomplete
    )
    return render_response(content, store)


def render_response(content: ResponseContent, store: BlobStore) -> ResponsePacket:
    from evidence.packet.render import render_html, render_pdf

    embedded = list({file.name: file for part in content.parts for file in embedded_files(part, store)}.values())
    rendered = render_pdf(
        render_html(RESPONSE_TEMPLATE, response=content),
        generated_at=content.generated_at,
        attachments=embedded,
        identifier=response_identifier(content),
    )
    return ResponsePacket(content, rendered.data, rendered.pages, len(embedded), rendered.anchors)


def response_identifier(content: ResponseContent) -> bytes:
    identity = f"audit|{content.audit.id}|{content.generated_at.isoformat()}|{content.manifest_sha256}"
    return hashlib.sha256(identity.encode()).digest()[:16]


def write_response_zip(packet: ResponsePacket, store: BlobStore, target: OutputTarget, *, pdf_name: str) -> WrittenZip:
    """The response PDF, the response's manifest.json and every evidence file, as `evidence packet --zip` does."""
    return write_zip(
        target,
        pdf_name=pdf_name,
        pdf=packet.pdf,
        manifest=packet.content.manifest_json,
        rows=packet.content.manifest,
        store=store,
        timestamp=packet.content.generated_at,
    )


def record_response(session: Session, packet: ResponsePacket, outputs: list[WrittenOutput], *, actor: str) -> None:
    """The `audit.packet` event once the outputs are written. An output event (OUTPUT_ACTIONS): the next
    identical request still gives the same bytes."""
    from evidence.retention.audit import AUDIT_RESPONSE_ACTION, record

    content, audit = packet.content, packet.content.audit
    where = ", ".join(f"{o.kind.upper()} to {o.target}" for o in outputs)
    label = f" ({audit.reference})" if audit.reference else ""
    state = "INCOMPLETE response" if content.incomplete else "response"
    anchor = content.parts[0].audit
    record(
        session,
        actor,
        AUDIT_RESPONSE_ACTION,
        f"{state} to audit #{audit.id}{label} of {audit.tin} PY{audit.year}, generated at "
        f"{content.generated_at.isoformat()}: {where}",
        tin=audit.tin,
        year=audit.year,
        details={
            "audit": audit.id,
            "reference": audit.reference,
            "generated_at": content.generated_at.isoformat(),
            "scope": [[line.entry.activity_id, line.entry.npi] for line in content.lines],
            "incomplete": content.missing,
            "pdf_sha256": packet.sha256,
            "manifest_sha256": content.manifest_sha256,
            "pages": packet.pages,
            "attachments": packet.attachments,
            "evidence_files": len(content.manifest),
            "audit_event": anchor.events,
            "audit_head": anchor.head_hash,
            "audit_key_id": anchor.key_id,
            "outputs": [{"kind": o.kind, "target": o.target, "sha256": o.sha256, "size": o.size} for o in outputs],
        },
    )
