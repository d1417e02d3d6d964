"""The app factory: `create_app(settings)` builds the FastAPI app over one open store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from evidence import __version__
from evidence.app import App
from evidence.support.outputs import OutputGuard
from evidence.web import errors
from evidence.web.answers import Answers
from evidence.web.jobs import JobRunner
from evidence.web.ratelimit import SignInLimiter
from evidence.web.routes import (
    activity,
    api,
    api_upload,
    audits,
    evidence_pages,
    health,
    packets,
    pages,
    records,
    retention,
    signin,
)
from evidence.web.security import BodyLimit, CsrfProtection, SecurityHeaders
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
        app.state.jobs.shutdown()
        store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="evidence",
        version=__version__,
        summary="MIPS Improvement Activities evidence: the REST API (Bearer tokens).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI needs inline script and a CDN, which the CSP forbids: the JSON is served
        redoc_url=None,
    )
    app.state.evidence = store
    app.state.web_settings = settings
    app.state.sign_in_limiter = SignInLimiter(settings.sign_in_failures, settings.sign_in_window_seconds, settings.now)
    app.state.answers = Answers()  # the pages' reports, kept until the store changes
    errors.install(app)
    app.state.jobs = JobRunner(
        settings.store.home,
        _job_guard(store),
        workers=settings.packet_workers,
        keep_seconds=settings.packet_keep_seconds,
        now=settings.now,
    )
    for router in (
        health.router,
        signin.router,
        pages.router,
        api.router,
        packets.router,
        packets.api_router,
        audits.router,
        records.router,
        retention.router,
        activity.router,
        api_upload.router,
        evidence_pages.router,
        evidence_pages.api_router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Added innermost first: headers wrap everything, sessions are decoded before the CSRF check.
    app.add_middleware(CsrfProtection)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)  # counts what the CSRF check reads too
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


def _job_guard(store: App) -> OutputGuard:
    """Packet jobs write under <home>/web-packets/: never into the evidence store, never onto the database."""
    settings = store.settings
    database = () if settings.sqlite_path is None else (settings.sqlite_path,)
    return OutputGuard(folders=(settings.store_dir,), database_files=database)
