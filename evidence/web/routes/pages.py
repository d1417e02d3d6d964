"""The pages: the practices a user sees, a practice's dashboard for a year, its missing documentation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from evidence.access import guarded
from evidence.access.policy import Principal
from evidence.records.missing import MissingReport
from evidence.records.views import missing_rows
from evidence.support.serialize import csv_text, select_columns
from evidence.web.sessions import app_of, page_principal, settings_of
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_principal)]
# Empty form fields mean "no filter" (a GET form sends every field).
Optional = Annotated[str | None, Query()]


def _given(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


@router.get("/", response_class=HTMLResponse)
def practices(request: Request, principal: SignedIn) -> Response:
    with app_of(request).read() as db:
        rows = guarded.practices(db, principal)
    return page(request, "practices.html", principal, practices=rows, year=settings_of(request).today().year - 1)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, principal: SignedIn, tin: str, year: str) -> Response:
    with app_of(request).read() as db:
        board = guarded.practice_dashboard(db, principal, tin, year, as_of=settings_of(request).today())
    return page(request, "dashboard.html", principal, board=board)


def _missing(
    request: Request, principal: Principal, tin: str, year: str, filters: dict[str, str | None]
) -> MissingReport:
    with app_of(request).read() as db:
        return guarded.missing(db, principal, tin, year, **filters)


@router.get("/missing", response_class=HTMLResponse)
def missing(
    request: Request,
    principal: SignedIn,
    tin: str,
    year: str,
    activity: Optional = None,
    level: Optional = None,
    npi: Optional = None,
    status: Optional = None,
) -> Response:
    filters = {"activity": _given(activity), "level": _given(level), "npi": _given(npi), "status": _given(status)}
    report = _missing(request, principal, tin, year, filters)
    query = request.url.query
    return page(request, "missing.html", principal, report=report, tin=tin, year=year, filters=filters, query=query)


@router.get("/missing.csv")
def missing_csv(
    request: Request,
    principal: SignedIn,
    tin: str,
    year: str,
    activity: Optional = None,
    level: Optional = None,
    npi: Optional = None,
    status: Optional = None,
) -> Response:
    """Byte for byte `evidence missing --tin --year [filters] --format csv`."""
    filters = {"activity": _given(activity), "level": _given(level), "npi": _given(npi), "status": _given(status)}
    report = _missing(request, principal, tin, year, filters)
    rows = missing_rows(report)
    filename = f"missing-{_digits(tin)}-{_digits(year)}.csv"  # both already accepted by the parsers
    return Response(
        csv_text(rows, select_columns(rows, None)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
