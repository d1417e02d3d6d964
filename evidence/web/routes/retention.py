"""Retention, legal holds, purge, the audit log and deadlines in the browser (issue #15).

Every page reads through access.guarded_retention; every change is a small urlencoded POST form
(CSRF checked by the middleware) answered with 303 to a page, or with that page, the one-line
refusal and a 4xx status when the library refuses (nothing written: the session rolls back).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evidence.access import guarded_retention as guarded
from evidence.access.policy import Permission, Principal
from evidence.errors import EvidenceError, ForbiddenError, InputError
from evidence.retention.log_view import EventFilter
from evidence.rules.identifiers import parse_iso_date, parse_whole_number
from evidence.web.answers import Answers
from evidence.web.errors import status_of
from evidence.web.sessions import app_of, page_principal, settings_of
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_principal)]
Field = Annotated[str, Form()]
Optional = Annotated[str | None, Query()]
PURGED = "purged"  # the session key of the last purge's counts, shown once by /retention/purged


def _given(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _retention_page(request: Request, principal: Principal, *, status: int = 200, problem: str | None = None,
                    form: dict[str, str] | None = None) -> Response:  # fmt: skip
    app = app_of(request)
    with app.read() as db:
        overview = guarded.overview(db, principal, as_of=settings_of(request).today())
        holds = guarded.holds(db, principal)
    return page(request, "retention.html", principal, status_code=status, overview=overview, holds=holds,
                problem=problem, form=form or {}, may_hold=principal.may(Permission.HOLDS),
                may_purge=principal.may(Permission.PURGE))  # fmt: skip


def _refused(request: Request, principal: Principal, exc: EvidenceError, form: dict[str, str]) -> Response:
    """The library's refusal on the retention page; a role's refusal is the plain 403 page."""
    if isinstance(exc, ForbiddenError):
        raise exc
    return _retention_page(request, principal, status=status_of(exc), problem=exc.message, form=form)


@router.get("/retention", response_class=HTMLResponse)
def retention(request: Request, principal: SignedIn) -> Response:
    return _retention_page(request, principal)


@router.post("/retention/holds", response_class=HTMLResponse)
def hold_add(
    request: Request, principal: SignedIn, tin: Field = "", year: Field = "", reason: Field = "", review_by: Field = ""
) -> Response:
    app = app_of(request)
    form = {"tin": tin, "year": year, "reason": reason, "review_by": review_by}
    try:
        with app.write() as db:
            change = guarded.add_hold(db, principal, tin, year, reason, review_on=review_by)
    except EvidenceError as exc:
        return _refused(request, principal, exc, form)
    guarded.mirror_hold(app.blob_store, principal, change, on=True)  # after the commit, as `hold add`
    return RedirectResponse(f"/retention#hold-{change.hold_id}", status_code=303)


def _hold_id(value: str) -> int:
    return parse_whole_number(value, field="hold id", low=1, high=2**31 - 1)


@router.post("/retention/holds/{hold_id}/release", response_class=HTMLResponse)
def hold_release(request: Request, principal: SignedIn, hold_id: str, reason: Field = "") -> Response:
    app = app_of(request)
    try:
        with app.write() as db:
            change = guarded.release_hold(db, principal, _hold_id(hold_id), reason)
    except EvidenceError as exc:
        return _refused(request, principal, exc, {})
    guarded.mirror_hold(app.blob_store, principal, change, on=False)
    return RedirectResponse(f"/retention#hold-{change.hold_id}", status_code=303)


@router.post("/retention/holds/{hold_id}/review", response_class=HTMLResponse)
def hold_review(
    request: Request, principal: SignedIn, hold_id: str, review_on: Field = "", reason: Field = ""
) -> Response:
    try:
        with app_of(request).write() as db:
            guarded.review_hold(db, principal, _hold_id(hold_id), review_on, reason)
    except EvidenceError as exc:
        return _refused(request, principal, exc, {})
    return RedirectResponse(f"/retention#hold-{hold_id}", status_code=303)


# --- Purge ---------------------------------------------------------------------------------------


def _preview(request: Request, principal: Principal, *, status: int = 200, problem: str | None = None) -> Response:
    app = app_of(request)
    with app.read() as db:
        plans = guarded.purge_preview(db, principal, as_of=settings_of(request).today(), home=app.settings.home)
    return page(request, "purge.html", principal, status_code=status, plans=plans, problem=problem,
                as_of=settings_of(request).today())  # fmt: skip


@router.get("/retention/purge", response_class=HTMLResponse)
def purge_preview(request: Request, principal: SignedIn) -> Response:
    return _preview(request, principal)


@router.post("/retention/purge", response_class=HTMLResponse)
def purge(
    request: Request, principal: SignedIn, tin: Field = "", confirm_tin: Field = "", plan: Field = ""
) -> Response:
    app = app_of(request)
    settings = settings_of(request)
    guarded.may_purge(principal)
    store = app.blob_store
    try:
        with store.maintenance():  # no registration may re-use a file between the commit and its removal
            with app.write() as db:
                done = guarded.purge_practice(db, principal, tin, typed_tin=confirm_tin, fingerprint=plan,
                                              today=settings.today(), home=app.settings.home)  # fmt: skip
            removed, kept = guarded.remove_files(store, principal, done)
    except InputError as exc:
        return _preview(request, principal, status=400, problem=exc.message)
    request.session[PURGED] = {
        "tin": done.tin,
        "years": [unit.year for unit in done.plan.units if unit.records or unit.blobs],
        "records": done.records,
        "evidence": sum(len(u.evidence) for u in done.plan.units),
        "files": removed,
        "kept": guarded.kept_files_message(kept) if kept else None,
    }
    return RedirectResponse("/retention/purged", status_code=303)


@router.get("/retention/purged", response_class=HTMLResponse)
def purged(request: Request, principal: SignedIn) -> Response:
    result: dict[str, Any] | None = request.session.pop(PURGED, None)
    return page(request, "purged.html", principal, result=result)


# --- The audit log -------------------------------------------------------------------------------


def _day(value: str | None, field: str) -> date | None:
    given = _given(value)
    return parse_iso_date(given, field=field) if given else None


@router.get("/log", response_class=HTMLResponse)
def log(
    request: Request,
    principal: SignedIn,
    action: Optional = None,
    actor: Optional = None,
    tin: Optional = None,
    since: Optional = None,
    until: Optional = None,
    before: Optional = None,
) -> Response:
    app = app_of(request)
    wanted = EventFilter(_given(action), _given(actor), _given(tin), _day(since, "since"), _day(until, "until"))
    start = _given(before)
    older = None if start is None else parse_whole_number(start, field="before", low=1, high=2**31 - 1)
    key = app.signing_key.public_key() if app.signing_key is not None else None
    marker = app.change_marker()  # before the reads it keys (evidence.web.answers)
    with app.read() as db:
        events = guarded.log_page(db, principal, wanted, before=older)
        actions = guarded.log_actions(db, principal)
        # Re-hashing the whole trail costs ~0.1 ms an event: kept until the database or the mirror changes.
        answers: Answers = request.app.state.answers
        check = answers.get(
            marker,
            guarded.verify_log_question(app.settings.home),
            lambda: guarded.verify_log(db, principal, home=app.settings.home, trusted_key=key),
        )
    filters = {"action": wanted.action, "actor": wanted.actor, "tin": wanted.tin,
               "since": _given(since), "until": _given(until)}  # fmt: skip
    return page(request, "log.html", principal, check=check, events=events, actions=actions, filters=filters)


# --- Deadlines -----------------------------------------------------------------------------------


@router.get("/deadlines", response_class=HTMLResponse)
def deadlines(request: Request, principal: SignedIn, tin: Optional = None) -> Response:
    as_of = settings_of(request).today()
    with app_of(request).read() as db:
        rows = guarded.deadline_rows(db, principal, as_of=as_of, tin=_given(tin))
    return page(request, "deadlines.html", principal, rows=rows, as_of=as_of, tin=_given(tin))


@router.get("/deadlines.ics")
def deadlines_ics(request: Request, principal: SignedIn, tin: Optional = None) -> Response:
    """Byte for byte `evidence deadlines [--tin] --as-of TODAY --ics -`."""
    as_of = settings_of(request).today()
    with app_of(request).read() as db:
        body = guarded.deadlines_calendar(db, principal, as_of=as_of, tin=_given(tin))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="deadlines-{as_of.isoformat()}.ics"'},
    )
