"""The activity page: an attested activity's documentation items and evidence, the upload form
(multipart, streamed to a private spool folder) and linking a file already registered."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evidence.access import guarded_upload
from evidence.access.guarded_upload import UploadFields
from evidence.access.policy import Principal
from evidence.errors import EvidenceError
from evidence.web.errors import status_of
from evidence.web.sessions import app_of, page_principal, settings_of
from evidence.web.templating import page
from evidence.web.uploads import read_upload, spooled

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_principal)]
Optional = Annotated[str | None, Query()]


def _npi(value: str | None) -> str | None:
    return (value or "").strip() or None


def activity_url(tin: str, year: str, activity: str, npi: str | None = None) -> str:
    query = {"tin": tin, "year": year, "activity": activity} | ({"npi": npi} if npi else {})
    return "/activity?" + urlencode(query)


def _show(
    request: Request,
    principal: Principal,
    tin: str,
    year: str,
    activity: str,
    npi: str | None,
    *,
    status_code: int = 200,
    problem: str | None = None,
) -> Response:
    with app_of(request).read() as db:
        view = guarded_upload.activity_page(db, principal, tin, year, activity, npi=npi)
    action = urlencode({"tin": view.tin, "year": view.year, "activity": view.activity_id})
    return page(request, "activity.html", principal, status_code=status_code, view=view, problem=problem, action=action)


@router.get("/activity", response_class=HTMLResponse)
def activity(
    request: Request, principal: SignedIn, tin: str, year: str, activity: str, npi: Optional = None
) -> Response:
    return _show(request, principal, tin, year, activity, _npi(npi))


@router.post("/activity/upload", response_class=HTMLResponse)
async def upload(request: Request, principal: SignedIn, tin: str, year: str, activity: str) -> Response:
    """The practice is in the form's address, so a viewer or another practice's user is refused
    before the body is read; then every file is spooled, then registered all or nothing."""
    guarded_upload.may_upload(principal, tin)
    app = app_of(request)
    with spooled(settings_of(request).upload_dir) as folder:
        try:
            form = await read_upload(request, folder)
            fields = UploadFields(
                tin,
                year,
                activity,
                form.many("item"),
                form.one("npi"),
                form.one("effective_date"),
                form.one("effective_from"),
                form.one("effective_until"),
                form.one("description"),
            )

            def register() -> None:
                with app.write() as db:
                    guarded_upload.upload(db, app.blob_store, principal, fields, form.files)

            await anyio.to_thread.run_sync(register)
        except EvidenceError as exc:  # the form again, with the one line; nothing was registered
            status, problem = status_of(exc), exc.message
        else:
            return RedirectResponse(activity_url(tin, year, activity), status_code=303)
    return await anyio.to_thread.run_sync(
        lambda: _show(request, principal, tin, year, activity, None, status_code=status, problem=problem)
    )


@router.post("/activity/link", response_class=HTMLResponse)
def link(
    request: Request,
    principal: SignedIn,
    tin: Annotated[str, Form()],
    year: Annotated[str, Form()],
    activity: Annotated[str, Form()],
    evidence: Annotated[str, Form()] = "",
    item: Annotated[list[str] | None, Form()] = None,
    npi: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    app = app_of(request)
    fields = UploadFields(tin, year, activity, tuple(item or ()), _npi(npi))
    try:
        with app.write() as db:
            guarded_upload.link_existing(db, app.blob_store, principal, evidence, fields, reason=reason)
    except EvidenceError as exc:
        if status_of(exc) in (403, 404):  # no page to show back to a viewer or a stranger
            raise
        return _show(request, principal, tin, year, activity, None, status_code=status_of(exc), problem=exc.message)
    return RedirectResponse(activity_url(tin, year, activity), status_code=303)
