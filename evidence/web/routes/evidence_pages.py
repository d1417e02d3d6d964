"""The evidence pages (issue #15): a practice-year's evidence, one record's facts, links and history,
its file (page session or Bearer token), and the corrections: edit, link, unlink, withdraw.

Each correction is a small urlencoded POST with a reason; a success answers 303 back to the page
(POST-redirect-GET), a refusal of the form's content re-shows the page with the one line and its
4xx status, nothing written (the write session rolls back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from evidence.access import guarded_evidence
from evidence.access.policy import Principal
from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.web.download import content_disposition, served_media_type
from evidence.web.errors import ERROR_RESPONSES, status_of
from evidence.web.sessions import api_principal, app_of, page_principal
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["read"], responses=ERROR_RESPONSES)
SignedIn = Annotated[Principal, Depends(page_principal)]
Token = Annotated[Principal, Depends(api_principal)]
EvidenceId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The evidence id (`evidence list`).")]
Field = Annotated[str, Form()]
Optional = Annotated[str | None, Query()]


def _given(value: str | None) -> str | None:
    """An empty form field or query parameter means "not given"."""
    return value.strip() or None if value is not None else None


@router.get("/evidence", response_class=HTMLResponse)
def evidence_list(request: Request, principal: SignedIn, tin: str, year: str, activity: Optional = None) -> Response:
    with app_of(request).read() as db:
        rows = guarded_evidence.evidence_list(db, principal, tin, year, activity=_given(activity))
    shown_activity = _given(activity) or ""
    return page(request, "evidence_list.html", principal, rows=rows, tin=tin, year=year, activity=shown_activity)


def _evidence_page(
    request: Request, principal: Principal, evidence_id: int, *, problem: str | None = None, status: int = 200
) -> Response:
    with app_of(request).read() as db:
        shown = guarded_evidence.evidence_page(db, principal, evidence_id)
    return page(request, "evidence.html", principal, status_code=status, shown=shown, problem=problem)


@router.get("/evidence/{evidence_id}", response_class=HTMLResponse)
def evidence(request: Request, principal: SignedIn, evidence_id: EvidenceId) -> Response:
    return _evidence_page(request, principal, evidence_id)


def _file(request: Request, principal: Principal, evidence_id: int) -> Response:
    """Streamed from the store, verified as it goes (store/download.py); never shown inline."""
    app = app_of(request)
    with app.read() as db:
        file = guarded_evidence.download(db, principal, evidence_id)
    chunks = guarded_evidence.file_chunks(app.blob_store, file)  # opened now: a missing file is refused here
    headers = {
        "content-type": served_media_type(file.media_type),
        "content-length": str(file.size),
        "content-disposition": content_disposition(file.original_name, f"evidence-{file.evidence_id}"),
        "x-evidence-sha256": file.digest,
    }
    return StreamingResponse(chunks, headers=headers)


@router.get("/evidence/{evidence_id}/file")
def evidence_file(request: Request, principal: SignedIn, evidence_id: EvidenceId) -> Response:
    return _file(request, principal, evidence_id)


@api_router.get(
    "/evidence/{evidence_id}/file",
    summary="The evidence's stored file, as an attachment (`X-Evidence-SHA256`: its digest, verified as sent)",
    responses={410: {"description": "The evidence was withdrawn or purged"}},
)
def api_evidence_file(request: Request, principal: Token, evidence_id: EvidenceId) -> Response:
    return _file(request, principal, evidence_id)


def _correct(request: Request, principal: Principal, evidence_id: int, change: Callable[[Any], object]) -> Response:
    """Run one correction in a write session; 303 to the page, or the page again with the refusal."""
    app = app_of(request)
    try:
        with app.write() as db:
            done = change(db)
    except (InputError, ConflictError, NotFoundError) as exc:  # the page again, nothing written; a record
        # the principal may not see fails again in _evidence_page, with the same "no evidence" 404
        return _evidence_page(request, principal, evidence_id, problem=exc.message, status=status_of(exc))
    if isinstance(done, guarded_evidence.LinkChange):  # after the commit: the file's own lock follows the link
        guarded_evidence.protect_in_store(app.blob_store, done)
    return RedirectResponse(f"/evidence/{evidence_id}", status_code=303)


@router.post("/evidence/{evidence_id}/edit", response_class=HTMLResponse)
def edit(
    request: Request,
    principal: SignedIn,
    evidence_id: EvidenceId,
    reason: Field = "",
    effective_date: Field = "",
    effective_from: Field = "",
    effective_until: Field = "",
    description: Field = "",
) -> Response:
    def change(db: Any) -> object:
        return guarded_evidence.edit(
            db,
            principal,
            evidence_id,
            reason=reason,
            effective_date=_given(effective_date),
            effective_from=_given(effective_from),
            effective_until=_given(effective_until),
            description=_given(description),
        )

    return _correct(request, principal, evidence_id, change)


@router.post("/evidence/{evidence_id}/link", response_class=HTMLResponse)
def link(
    request: Request,
    principal: SignedIn,
    evidence_id: EvidenceId,
    reason: Field = "",
    tin: Field = "",
    year: Field = "",
    activity: Field = "",
    items: Field = "",
    npi: Field = "",
) -> Response:
    def change(db: Any) -> object:
        return guarded_evidence.link(
            db, principal, evidence_id, tin=tin, year=year, activity=activity,
            items=_given(items), npi=_given(npi), reason=reason,
        )  # fmt: skip

    return _correct(request, principal, evidence_id, change)


@router.post("/evidence/{evidence_id}/unlink", response_class=HTMLResponse)
def unlink(
    request: Request,
    principal: SignedIn,
    evidence_id: EvidenceId,
    link_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    reason: Field = "",
) -> Response:
    def change(db: Any) -> object:
        return guarded_evidence.unlink(db, principal, evidence_id, link_id, reason=reason)

    return _correct(request, principal, evidence_id, change)


@router.post("/evidence/{evidence_id}/withdraw", response_class=HTMLResponse)
def withdraw(request: Request, principal: SignedIn, evidence_id: EvidenceId, reason: Field = "") -> Response:
    return _correct(
        request, principal, evidence_id, lambda db: guarded_evidence.withdraw(db, principal, evidence_id, reason=reason)
    )
