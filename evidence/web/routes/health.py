"""GET /healthz: the process answers and so does the database; no sign-in needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from evidence.errors import StoreError
from evidence.web.sessions import app_of

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    try:
        app_of(request).ping()
    except StoreError:
        return JSONResponse({"status": "unavailable", "error": "the database does not answer"}, status_code=503)
    return JSONResponse({"status": "ok"})
