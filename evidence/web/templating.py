"""The Jinja2 templates of evidence/templates/web/, autoescaped, and what every page is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from evidence.access.policy import Principal
from evidence.support.inert import marker, neutralise
from evidence.web.sessions import csrf_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
STATIC = Path(__file__).resolve().parent / "static"


def _inert(value: Any) -> Any:
    """Every value a page shows: bidi overrides and controls as visible [U+202E] markers, as in the packet."""
    return neutralise(value, marker) if isinstance(value, str) else value


# Autoescape every template (not only *.html): user text is always escaped, after being made inert.
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    finalize=_inert,
)
templates = Jinja2Templates(env=_environment)


def page(
    request: Request, template: str, principal: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"principal": principal, "csrf_token": csrf_token(request), **context},
        status_code=status_code,
    )
