"""The app factory: `create_app(settings)` builds the FastAPI app over one open store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from evidence import __version__
from evidence.app import App
from evidence.web import errors
from evidence.web.answers import Answers
from evidence.web.ratelimit import SignInLimiter
from evidence.web.routes import api, health, pages, signin
from evidence.web.security import CsrfProtection, SecurityHeaders
from evidence.web.settings import WebSettings
from evidence.web.templating import STATIC

SESSION_COOKIE = "evidence_session"


def create_app(settings: WebSettings) -> FastAPI:
    """The app over an existing store (NotFoundError, as read commands give, when there is none)."""
    store = App(settings.store, actor="web")
    store.open_existing_only()
    store.engine  # noqa: B018 - opened (and refused if missing) now, not by the first request's thread

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="evidence",
        version=__version__,
        summary="MIPS Improvement Activities evidence: the read-only REST API (Bearer tokens).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI needs inline script and a CDN, which the CSP forbids: the JSON is served
        redoc_url=None,
    )
    app.state.evidence = store
    app.state.web_settings = settings
    app.state.sign_in_limiter = SignInLimiter(settings.sign_in_failures, settings.sign_in_window_seconds, settings.now)
    app.state.answers = Answers()  # the pages' reports, kept until the store changes
    errors.install(app)
    for router in (health.router, signin.router, pages.router, api.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Added innermost first: headers wrap everything, sessions are decoded before the CSRF check.
    app.add_middleware(CsrfProtection)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.absolute_seconds,
        same_site="strict",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    return app
