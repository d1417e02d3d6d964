"""The packet page and its background jobs (`evidence packet` in the browser), the job pages and
downloads shared with audit responses, and GET /api/v1/packet (synchronous, application/pdf)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from evidence.access import guarded_packets
from evidence.access.policy import Permission, Principal
from evidence.app import App
from evidence.errors import EvidenceError
from evidence.packet.content import WrittenOutput, write_packet_zip
from evidence.web.errors import ERROR_RESPONSES, status_of
from evidence.web.jobs import MEDIA_TYPES, JobContext, JobRunner, Work
from evidence.web.sessions import api_principal, app_of, page_principal
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["packets"], responses=ERROR_RESPONSES)
SignedIn = Annotated[Principal, Depends(page_principal)]
Field = Annotated[str, Form()]


def jobs_of(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


def _given(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def packet_name(tin: str, year: int, npi: str | None, suffix: str) -> str:
    """Parsed values only (digits), so the name is safe in a header."""
    return f"packet-{tin}-PY{year}" + (f"-{npi}" if npi else "") + suffix


def _packet_work(
    app: App, principal: Principal, tin: str, year: int, npi: str | None, *,
    generated_at: datetime | None, attachments: bool, with_zip: bool,
) -> Work:  # fmt: skip
    def work(job: JobContext) -> None:
        app.ensure_writable()  # the packet is recorded once written: refuse now what the record would refuse
        job.stage("gathering the records and rendering the PDF")
        store = app.blob_store
        with app.read() as db:
            result = guarded_packets.build_packet(
                db, store, principal, tin, year, npi, generated_at=generated_at, attachments=attachments
            )
        written: list[WrittenOutput] = []
        pdf_name = packet_name(tin, year, npi, ".pdf")
        try:
            job.stage(f"writing the PDF ({result.pages} pages, {result.attachments} attachments)")
            job.target(pdf_name, "the PDF").write_bytes(result.pdf)
            written.append(WrittenOutput("pdf", f"web download {pdf_name}", result.sha256, len(result.pdf)))
            zip_name = packet_name(tin, year, npi, ".zip")
            if with_zip:
                job.stage("writing the ZIP")
                archive = write_packet_zip(result, store, job.target(zip_name, "the ZIP"), pdf_name=pdf_name)
                written.append(WrittenOutput("zip", f"web download {zip_name}", archive.sha256, archive.size))
        finally:
            if written:  # what did go out is recorded, even when a later output failed
                job.stage("recording the packet in the audit trail")
                with app.write() as db:
                    guarded_packets.record_packet(db, principal, result, written)
        job.offer("pdf", pdf_name, result.sha256, len(result.pdf))
        if with_zip:
            job.offer("zip", zip_name, written[1].sha256, written[1].size)
        job.summary(f"{result.pages} pages, {result.attachments} attachments")

    return work


@router.get("/packet", response_class=HTMLResponse)
def packet_form(request: Request, principal: SignedIn, tin: str, year: str, npi: str | None = None) -> Response:
    with app_of(request).read() as db:
        guarded_packets.check_packet_page(db, principal, tin, year)  # READ on the TIN (404 when not granted)
    return _form(request, principal, {"tin": tin, "year": year, "npi": npi or ""})


def _form(
    request: Request, principal: Principal, values: dict[str, str], problem: str | None = None, status: int = 200
) -> Response:
    return page(
        request,
        "packet.html",
        principal,
        status_code=status,
        values=values,
        problem=problem,
        may_make=principal.may(Permission.PACKET),
    )


@router.post("/packet", response_class=HTMLResponse)
def start_packet(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    year: Field = "",
    npi: Field = "",
    generated_at: Field = "",
    no_attachments: Field = "",
    with_zip: Annotated[str, Form(alias="zip")] = "",
) -> Response:
    values = {"tin": tin, "year": year, "npi": npi, "generated_at": generated_at,
              "no_attachments": no_attachments, "zip": with_zip}  # fmt: skip
    app = app_of(request)
    try:
        with app.read() as db:
            parsed_tin, parsed_year, parsed_npi = guarded_packets.check_packet(db, principal, tin, year, _given(npi))
        moment = guarded_packets.parse_generated_at(generated_at)
    except EvidenceError as exc:
        status = status_of(exc)
        if status in (403, 404):  # not allowed, or not granted: the same answer as any other page
            raise
        return _form(request, principal, values, exc.message, status)
    work = _packet_work(
        app, principal, parsed_tin, parsed_year, parsed_npi,
        generated_at=moment, attachments=not no_attachments, with_zip=bool(with_zip),
    )  # fmt: skip
    title = f"Packet of TIN {parsed_tin}" + (f", NPI {parsed_npi}" if parsed_npi else "") + f", PY{parsed_year}"
    job = jobs_of(request).submit(principal.name, title, work)
    return RedirectResponse(f"/packet/jobs/{job.id}", status_code=303)


@router.get("/packet/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, principal: SignedIn, job_id: str) -> Response:
    job = jobs_of(request).get(job_id, principal.name)
    return page(request, "packet_job.html", principal, job=job)


@router.get("/packet/jobs/{job_id}/{kind}")
def job_file(request: Request, principal: SignedIn, job_id: str, kind: str) -> Response:
    job = jobs_of(request).get(job_id, principal.name)
    if kind not in MEDIA_TYPES:
        return page(request, "error.html", principal, status_code=404, status=404, message="no such download")
    item = job.file(kind)
    return FileResponse(
        item.path, media_type=item.media_type, filename=item.name, content_disposition_type="attachment"
    )


@api_router.get(
    "/packet",
    summary="The audit packet PDF (`evidence packet --tin --year [--npi] [--generated-at] -o -`)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The packet PDF, as an attachment"}},
)
def api_packet(
    request: Request,
    principal: Annotated[Principal, Depends(api_principal)],
    tin: Annotated[str, Query(description="The practice's TIN: 9 digits, leading zeros kept.")],
    year: Annotated[str, Query(description="Performance year, e.g. 2020.")],
    npi: Annotated[str | None, Query(description="An individual packet for this NPI's own attestations.")] = None,
    generated_at: Annotated[
        str | None, Query(description="ISO 8601 time stamped in the PDF; the same value gives the CLI's bytes.")
    ] = None,
    no_attachments: Annotated[bool, Query(description="Light copy: list the files without embedding them.")] = False,
) -> Response:
    """Rendered while the request waits (large packets: use the packet page's background job).
    Recorded in the audit log as `packet.generate` with the token as actor."""
    app = app_of(request)
    moment = guarded_packets.parse_generated_at(generated_at)
    app.ensure_writable()
    with app.read() as db:
        result = guarded_packets.build_packet(
            db, app.blob_store, principal, tin, year, _given(npi), generated_at=moment, attachments=not no_attachments
        )
    content = result.content
    name = packet_name(content.tin, content.year, content.npi, ".pdf")
    with app.write() as db:
        output = WrittenOutput("pdf", f"API download {name}", result.sha256, len(result.pdf))
        guarded_packets.record_packet(db, principal, result, [output])
    return Response(
        result.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-SHA256": result.sha256},
    )
