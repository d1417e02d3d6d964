"""POST /api/v1/evidence: register one or more files (multipart) with the fields of a manifest entry."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from evidence.access import guarded_upload
from evidence.access.guarded_upload import UploadFields
from evidence.access.policy import Principal
from evidence.errors import InputError
from evidence.web.errors import ERROR_RESPONSES
from evidence.web.sessions import api_principal, app_of, settings_of
from evidence.web.uploads import read_upload, spooled

router = APIRouter(prefix="/api/v1", tags=["write"])

# FastAPI cannot describe a body the route streams itself: the form is documented by hand.
_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["tin", "year", "activity", "file"],
    "properties": {
        "tin": {"type": "string", "description": "The practice's TIN (9 digits)."},
        "year": {"type": "string", "description": "Performance year, e.g. 2020."},
        "activity": {"type": "string", "description": "The attested activity, e.g. IA_PM_7."},
        "items": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Documentation item keys, repeated or comma-separated (`1,2`); optional for one item.",
        },
        "npi": {"type": "string", "description": "A clinician: an individual attestation or a group participant."},
        "effective_date": {"type": "string", "format": "date", "description": "The day the work happened ..."},
        "effective_from": {"type": "string", "format": "date", "description": "... or a range's first day"},
        "effective_until": {"type": "string", "format": "date", "description": "... and its last day."},
        "description": {"type": "string"},
        "file": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "One or more files, sent after the fields; all are registered or none.",
        },
    },
}
_CREATED = {
    "description": "Every file registered (201), or every file already registered with these links (200); "
    "`files` lists each one, `id` and `sha256` are the first's.",
    "content": {
        "application/json": {
            "example": {
                "id": 12,
                "sha256": "9f86d0...",
                "status": "registered",
                "files": [{"name": "qcdr.pdf", "id": 12, "sha256": "9f86d0...", "status": "registered"}],
            }
        }
    },
}


@router.post(
    "/evidence",
    summary="Register evidence files (`evidence register --tin --year --activity [--item] [--npi] ...`)",
    status_code=201,
    responses={
        **ERROR_RESPONSES,
        200: _CREATED,
        201: _CREATED,
        413: {"description": "The body is larger than the server's limit (`evidence serve --max-upload-mb`)"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _FORM}}}},
)
async def register(request: Request, principal: Principal = Depends(api_principal)) -> Response:  # noqa: B008
    guarded_upload.may_upload(principal)  # a viewer's token: 403 before the body is read
    app = app_of(request)
    with spooled(settings_of(request).upload_dir) as folder:
        form = await read_upload(request, folder)
        for name in ("tin", "year", "activity"):
            if not (form.one(name) or "").strip():
                raise InputError(f"the field {name!r} is required")
        fields = UploadFields(
            form.one("tin") or "",
            form.one("year") or "",
            form.one("activity") or "",
            form.many("items"),
            form.one("npi"),
            form.one("effective_date"),
            form.one("effective_from"),
            form.one("effective_until"),
            form.one("description"),
        )

        def register_all() -> list[dict[str, object]]:
            with app.write() as db:
                outcomes = guarded_upload.upload(db, app.blob_store, principal, fields, form.files)
                return guarded_upload.upload_document(db, principal, form.files, outcomes)

        files = await anyio.to_thread.run_sync(register_all)
    created = any(f["status"] == "registered" for f in files)
    body = {"id": files[0]["id"], "sha256": files[0]["sha256"], "status": files[0]["status"], "files": files}
    return JSONResponse(body, status_code=201 if created else 200)
