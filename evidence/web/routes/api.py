"""The read-only REST API under /api/v1/: Bearer tokens, the CLI's `--format json` documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from evidence.access import guarded
from evidence.access.policy import Principal
from evidence.records.views import missing_document
from evidence.support.serialize import json_text
from evidence.web.errors import ERROR_RESPONSES
from evidence.web.sessions import api_principal, app_of

router = APIRouter(prefix="/api/v1", tags=["read"], responses=ERROR_RESPONSES)
Token = Annotated[Principal, Depends(api_principal)]
Tin = Annotated[str, Query(description="The practice's TIN: 9 digits, leading zeros kept.")]
Year = Annotated[str, Query(description="Performance year, e.g. 2020.")]
Npi = Annotated[str | None, Query(description="One clinician (individual reporting) instead of the whole TIN.")]


def _json(document: Any) -> Response:
    """The very text `--format json` prints (dates as ISO text, exact fractions as numbers)."""
    return Response(json_text(document), media_type="application/json")


@router.get("/practices", summary="The practices the token sees (`evidence practice list --format json`)")
def practices(request: Request, principal: Token) -> Response:
    with app_of(request).read() as db:
        return _json(guarded.practices(db, principal))


@router.get("/missing", summary="Missing documentation (`evidence missing --tin --year [--npi] --format json`)")
def missing(request: Request, principal: Token, tin: Tin, year: Year, npi: Npi = None) -> Response:
    with app_of(request).read() as db:
        return _json(missing_document(guarded.missing(db, principal, tin, year, npi=npi)))


@router.get("/score", summary="The IA score (`evidence score --tin --year [--npi] --format json`)")
def score(request: Request, principal: Token, tin: Tin, year: Year, npi: Npi = None) -> Response:
    with app_of(request).read() as db:
        return _json(guarded.score_document(db, principal, tin, year, npi=npi))


@router.get("/evidence", summary="Registered evidence of a practice and year (`evidence list --format json`)")
def evidence(request: Request, principal: Token, tin: Tin, year: Year) -> Response:
    with app_of(request).read() as db:
        return _json(guarded.evidence_document(db, principal, tin, year))
