"""Sign in (a form, Argon2 via evidence.access.users), sign out; both POSTs carry the CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evidence.access import guarded
from evidence.errors import AuthenticationError
from evidence.web.sessions import app_of, end_session, local_path, session_user, start_session
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "/") -> Response:
    principal = session_user(request)
    if principal is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return page(request, "sign_in.html", None, next=local_path(next), problem=None, name="")


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = local_path(next)
    limiter = request.app.state.sign_in_limiter
    account = "account:" + name.strip().casefold()[:64]
    address = "address:" + (request.client.host if request.client else "unknown")
    wait = limiter.retry_after(account, address)
    if wait is not None:
        response = page(
            request,
            "sign_in.html",
            None,
            status_code=429,
            next=target,
            name=name,
            problem=f"too many failed sign-ins: try again in {wait} seconds",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        with app_of(request).write() as db:  # a hash made with older Argon2 parameters is replaced on success
            principal = guarded.authenticate_password(db, name.strip(), password)
    except AuthenticationError as exc:
        limiter.failed(account, address)
        return page(request, "sign_in.html", None, status_code=401, next=target, name=name, problem=exc.message)
    limiter.succeeded(account)
    start_session(request, principal)
    return RedirectResponse(target, status_code=303)


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/sign-in", status_code=303)
