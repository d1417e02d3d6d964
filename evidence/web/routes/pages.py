"""The pages: the practices a user sees, a practice's dashboard for a year, its missing documentation."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from evidence.access import guarded
from evidence.access.policy import Principal
from evidence.errors import InputError
from evidence.records.missing import MissingReport
from evidence.records.views import missing_rows
from evidence.support.serialize import csv_text, select_columns
from evidence.web.answers import Answers
from evidence.web.sessions import app_of, page_principal, settings_of
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_principal)]
# Empty form fields mean "no filter" (a GET form sends every field).
Optional = Annotated[str | None, Query()]
PAGE_SIZE = 100  # activities per missing page: a practice attests thousands; the CSV has them all


def _given(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


@router.get("/", response_class=HTMLResponse)
def practices(request: Request, principal: SignedIn) -> Response:
    with app_of(request).read() as db:
        rows = guarded.practices(db, principal)
    return page(request, "practices.html", principal, practices=rows, year=settings_of(request).today().year - 1)


def _answers(request: Request) -> Answers:
    answers: Answers = request.app.state.answers
    return answers


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, principal: SignedIn, tin: str, year: str) -> Response:
    store, as_of = app_of(request), settings_of(request).today()
    marker = store.change_marker()  # before the reads it keys (evidence.web.answers)
    with store.read() as db:
        tin = guarded.readable_tin(db, principal, tin)  # on every request, kept answer or not
        board = _answers(request).get(
            marker,
            ("dashboard", tin, year, as_of),
            lambda: guarded.practice_dashboard(db, principal, tin, year, as_of=as_of),
        )
    return page(request, "dashboard.html", principal, board=board)


def _missing(
    request: Request, principal: Principal, tin: str, year: str, filters: dict[str, str | None]
) -> MissingReport:
    store = app_of(request)
    marker = store.change_marker()
    with store.read() as db:
        tin = guarded.readable_tin(db, principal, tin)
        return _answers(request).get(
            marker,
            ("missing", tin, year, *sorted(filters.items())),
            lambda: guarded.missing(db, principal, tin, year, **filters),
        )


def _page_of(report: MissingReport, page: int) -> tuple[int, int]:
    """The slice [start, end) of the report's activities that page `page` (from 1) shows."""
    pages = max(1, -(-len(report.activities) // PAGE_SIZE))
    if page > pages:
        raise InputError(f"page {page} is past the last page ({pages})")
    start = (page - 1) * PAGE_SIZE
    return start, min(start + PAGE_SIZE, len(report.activities))


def _page_link(request: Request, page: int) -> str:
    """This page's address with another ?page=, every filter kept."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return "/missing?" + urlencode([*query, ("page", str(page))])


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
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    filters = {"activity": _given(activity), "level": _given(level), "npi": _given(npi), "status": _given(status)}
    report = _missing(request, principal, tin, year, filters)
    start, end = _page_of(report, page_number)
    # The CSV link drops ?page=: the download is always the whole report.
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page"])
    return page(
        request,
        "missing.html",
        principal,
        report=report,
        tin=tin,
        year=year,
        filters=filters,
        query=query,
        shown=report.activities[start:end],
        first=start + 1,
        last=end,
        previous=_page_link(request, page_number - 1) if page_number > 1 else None,
        next=_page_link(request, page_number + 1) if end < len(report.activities) else None,
    )


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
