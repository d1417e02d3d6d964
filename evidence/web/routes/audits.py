"""CMS audit requests in the browser (`evidence audit list|show|open|note|close|packet`, issue #16)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evidence.access import guarded_packets
from evidence.access.policy import Permission, Principal
from evidence.app import App
from evidence.errors import EvidenceError
from evidence.packet.content import WrittenOutput
from evidence.packet.response import write_response_zip
from evidence.packet.workbook import write_workbook
from evidence.rules.cms import AUDIT_OUTCOMES
from evidence.web.errors import status_of
from evidence.web.jobs import JobContext, Work
from evidence.web.routes.packets import jobs_of
from evidence.web.sessions import app_of, page_principal, settings_of
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_principal)]
Field = Annotated[str, Form()]


def _words(text: str) -> list[str]:
    """A list typed in one field: separated by spaces or commas."""
    return text.replace(",", " ").split()


def _refused(exc: EvidenceError) -> int:
    """The status to re-show a form with; a role or grant refusal is answered as on any page."""
    status = status_of(exc)
    if status in (403, 404):
        raise exc
    return status


@router.get("/audits", response_class=HTMLResponse)
def audit_list(request: Request, principal: SignedIn, tin: str) -> Response:
    return _list(request, principal, tin, {})


def _list(
    request: Request, principal: Principal, tin: str, values: dict[str, str], problem: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    with app_of(request).read() as db:
        rows = guarded_packets.list_audits(db, principal, tin)
    return page(
        request, "audits.html", principal, status_code=status, tin=tin, audits=rows, values=values, problem=problem,
        as_of=settings_of(request).today(), may_change=principal.may(Permission.AUDITS),
    )  # fmt: skip


@router.post("/audits", response_class=HTMLResponse)
def open_audit(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    year: Field = "",
    received: Field = "",
    due: Field = "",
    reference: Field = "",
    contact: Field = "",
    reason: Field = "",
    activities: Field = "",
    npis: Field = "",
) -> Response:
    values = {"year": year, "received": received, "due": due, "reference": reference, "contact": contact,
              "reason": reason, "activities": activities, "npis": npis}  # fmt: skip
    app = app_of(request)
    try:
        with app.write() as db:
            view, digests = guarded_packets.open_audit(
                db, principal, tin, year, received, due=due, activities=_words(activities), npis=_words(npis),
                reference=reference.strip() or None, contact=contact.strip() or None, reason=reason.strip() or None,
            )  # fmt: skip
    except EvidenceError as exc:
        return _list(request, principal, tin, values, exc.message, _refused(exc))
    guarded_packets.mirror_audit_hold(app.blob_store, view, digests, on=True)
    return RedirectResponse(f"/audits/{view.id}", status_code=303)


@router.get("/audits/{audit_id}", response_class=HTMLResponse)
def audit_page(request: Request, principal: SignedIn, audit_id: int) -> Response:
    return _show(request, principal, audit_id)


def _show(
    request: Request, principal: Principal, audit_id: int, problem: str | None = None, status: int = 200
) -> Response:
    with app_of(request).read() as db:
        report = guarded_packets.audit_report(db, principal, audit_id, as_of=settings_of(request).today())
    return page(
        request, "audit.html", principal, status_code=status, report=report, a=report.audit, problem=problem,
        outcomes=AUDIT_OUTCOMES, may_change=principal.may(Permission.AUDITS),
        may_packet=principal.may(Permission.PACKET),
    )  # fmt: skip


@router.post("/audits/{audit_id}/note", response_class=HTMLResponse)
def note_audit(request: Request, principal: SignedIn, audit_id: int, text: Field = "", due: Field = "") -> Response:
    try:
        with app_of(request).write() as db:
            guarded_packets.note_audit(db, principal, audit_id, text, due=due)
    except EvidenceError as exc:
        return _show(request, principal, audit_id, exc.message, _refused(exc))
    return RedirectResponse(f"/audits/{audit_id}", status_code=303)


@router.post("/audits/{audit_id}/close", response_class=HTMLResponse)
def close_audit(
    request: Request, principal: SignedIn, audit_id: int, outcome: Field = "", note: Field = ""
) -> Response:
    app = app_of(request)
    try:
        with app.write() as db:
            view, digests = guarded_packets.close_audit(
                db, principal, audit_id, outcome.strip(), note=note.strip() or None
            )
    except EvidenceError as exc:
        return _show(request, principal, audit_id, exc.message, _refused(exc))
    guarded_packets.mirror_audit_hold(app.blob_store, view, digests, on=False)
    return RedirectResponse(f"/audits/{audit_id}", status_code=303)


def _response_work(
    app: App,
    principal: Principal,
    audit_id: int,
    *,
    generated_at: datetime | None,
    attachments: bool,
    allow_incomplete: bool,
) -> Work:
    def work(job: JobContext) -> None:
        app.ensure_writable()
        job.stage("gathering the records and rendering the response PDF")
        store = app.blob_store
        with app.read() as db:
            result = guarded_packets.build_response(
                db, store, principal, audit_id, generated_at=generated_at,
                attachments=attachments, allow_incomplete=allow_incomplete,
            )  # fmt: skip
        base = f"audit-{audit_id}-response"
        written: list[WrittenOutput] = []
        try:
            job.stage(f"writing the PDF ({result.pages} pages, {result.attachments} attachments)")
            job.target(base + ".pdf", "the PDF").write_bytes(result.pdf)
            written.append(WrittenOutput("pdf", f"web download {base}.pdf", result.sha256, len(result.pdf)))
            job.stage("writing the ZIP")
            archive = write_response_zip(result, store, job.target(base + ".zip", "the ZIP"), pdf_name=base + ".pdf")
            written.append(WrittenOutput("zip", f"web download {base}.zip", archive.sha256, archive.size))
            job.stage("writing the answer workbook")
            book = write_workbook(result, job.target(base + ".xlsx", "the workbook"))
            written.append(WrittenOutput("xlsx", f"web download {base}.xlsx", book.sha256, book.size))
        finally:
            if written:  # what did go out is recorded, even when a later output failed
                job.stage("recording the response in the audit trail")
                with app.write() as db:
                    guarded_packets.record_response(db, principal, result, written)
        for output in written:
            job.offer(output.kind, f"{base}.{output.kind}", output.sha256, output.size)
        state = "INCOMPLETE response" if result.content.incomplete else "response"
        job.summary(f"{state}, {result.pages} pages, {result.attachments} attachments")

    return work


@router.post("/audits/{audit_id}/response", response_class=HTMLResponse)
def start_response(
    request: Request,
    principal: SignedIn,
    audit_id: int,
    allow_incomplete: Field = "",
    no_attachments: Field = "",
    generated_at: Field = "",
) -> Response:
    app = app_of(request)
    try:
        with app.read() as db:
            view = guarded_packets.check_response(db, principal, audit_id)
        moment = guarded_packets.parse_generated_at(generated_at)
    except EvidenceError as exc:
        return _show(request, principal, audit_id, exc.message, _refused(exc))
    work = _response_work(
        app, principal, audit_id, generated_at=moment, attachments=not no_attachments,
        allow_incomplete=bool(allow_incomplete),
    )  # fmt: skip
    label = f" ({view.reference})" if view.reference else ""
    job = jobs_of(request).submit(principal.name, f"Response to audit #{view.id}{label}", work)
    return RedirectResponse(f"/packet/jobs/{job.id}", status_code=303)
