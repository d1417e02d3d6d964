"""How refusals are answered: JSON `{"error": "..."}` under /api/, a page elsewhere; never a traceback."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from evidence.errors import (
    AuthenticationError,
    ConflictError,
    EvidenceError,
    ForbiddenError,
    GoneError,
    InputError,
    NotFoundError,
)
from evidence.web.security import BodyTooLarge
from evidence.web.sessions import SignInRequired, sign_in_url
from evidence.web.templating import page

STATUS: list[tuple[type[EvidenceError], int]] = [
    (InputError, 400),
    (AuthenticationError, 401),
    (ForbiddenError, 403),
    (GoneError, 410),  # before NotFoundError, its base
    (NotFoundError, 404),
    (ConflictError, 409),
]
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {
        "description": description,
        "content": {"application/json": {"example": {"error": "one line naming the problem"}}},
    }
    for code, description in [
        (400, "A malformed parameter (TIN, year, NPI, ...)"),
        (401, "No API token, or one that is malformed, unknown or revoked"),
        (403, "The token's role may not do this (every role reads; a viewer may not write)"),
        (404, "No such practice, or one the token is not granted (the same answer)"),
    ]
}


def status_of(exc: EvidenceError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 503)  # StoreError: the store is unusable


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def refusal(request: Request, status: int, message: str) -> Response:
    if _is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    from evidence.web.sessions import session_user

    principal = None
    if status != 401:
        try:
            principal = session_user(request)  # the header shows who is signed in
        except EvidenceError:  # the store is what failed: the page says so without the header
            principal = None
    return page(request, "error.html", principal, status_code=status, status=status, message=message)


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_path), status_code=303)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return refusal(request, 413, exc.message)

    @app.exception_handler(EvidenceError)
    async def _evidence(request: Request, exc: EvidenceError) -> Response:
        return refusal(request, status_of(exc), exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}" for e in exc.errors()
        ]
        return refusal(request, 400, "; ".join(problems) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        message = {404: "no such page", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return refusal(request, exc.status_code, message)
