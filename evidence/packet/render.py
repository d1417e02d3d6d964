"""HTML and PDF for the audit packet: one Jinja2 environment, one locked-down URL fetcher.

Evidence descriptions and file names are user text: they are escaped by the templates, and
even if markup slipped through, WeasyPrint can fetch nothing but the packet's own CSS and
fonts. WeasyPrint is imported inside the functions (it takes half a second to import).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
import markupsafe

from evidence.support.inert import marker, neutralise

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "assets"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
PACKET_TEMPLATE = "packet.html"
# Relative URLs in the packet's HTML (its stylesheet) resolve against this folder.
BASE_URL = TEMPLATES_DIR.as_uri() + "/"

_SERVED_TYPES = {".css": "text/css", ".ttf": "font/ttf", ".otf": "font/otf"}
# The running header holds the practice name on every page: longer names are cut (the cover has it whole).
HEADER_LIMIT = 60


class AssetRefused(ValueError):
    """The packet asked for something other than its own packaged CSS and fonts."""


def packaged_asset(url: str) -> tuple[bytes, str]:
    """The bytes and media type of a packaged asset; anything else (network, other files) is refused."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise AssetRefused(f"refused {url}: the packet loads only its own packaged assets")
    path = Path(url2pathname(parts.path)).resolve()  # resolve() defeats ../ and symlinks
    media_type = _SERVED_TYPES.get(path.suffix)
    inside = path.is_relative_to(ASSETS_DIR) or (media_type == "text/css" and path.is_relative_to(TEMPLATES_DIR))
    if not inside or media_type is None or not path.is_file():
        raise AssetRefused(f"refused {url}: not one of the packet's packaged assets")
    return path.read_bytes(), media_type


def make_url_fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves only `packaged_asset`."""
    from weasyprint import urls

    if hasattr(urls, "URLFetcherResponse"):  # newer WeasyPrint: fetchers are URLFetcher objects
        # WeasyPrint has no type hints, so URLFetcher is Any to mypy: subclassing it is [misc].
        class PackagedAssetFetcher(urls.URLFetcher):  # type: ignore[misc]
            def fetch(self, url: str, headers: Any = None) -> Any:
                body, media_type = packaged_asset(url)
                return urls.URLFetcherResponse(url, body, {"Content-Type": media_type})

        return PackagedAssetFetcher()

    def fetch(url: str) -> dict[str, Any]:  # older WeasyPrint: a function returning a dict
        body, media_type = packaged_asset(url)
        return {"string": body, "mime_type": media_type, "redirected_url": url}

    return fetch


# --- HTML ---------------------------------------------------------------------------------------


def file_size(size: int) -> str:
    """2.4 KB, 1.3 MB: binary multiples, one decimal."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def utc_time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def period(start: date, end: date) -> str:
    return f"{start} to {end} ({(end - start).days + 1} days)"


def number(value: Fraction | float | int) -> str:
    """11.25, 15, 7.5: exact values without float noise."""
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def sentence(text: str) -> str:
    """First letter upper case, the rest untouched (unlike `capitalize`, which would write "Py2020")."""
    return text[:1].upper() + text[1:]


def subcategory(cms_id: str | None) -> str:
    """populationManagement -> Population management."""
    if not cms_id:
        return "none"
    words = "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in cms_id)
    return sentence(words.strip())


def rule_text(rule: str, items: int) -> str:
    if rule == "any":
        return f"any one of the {items} items"
    if rule == "all" and items > 1:
        return f"all {items} items"
    return "the single item"


def inert(value: Any) -> Any:
    """User text as shown in the packet: a bidi override or control character is a visible [U+202E]
    marker, never obeyed (a file "\u202etxt.exe" would otherwise read "exe.txt"). Applied to every value
    the templates print (the environment's finalize), and named in the templates where text is the user's."""
    if isinstance(value, markupsafe.Markup) or not isinstance(value, str):
        return value  # the templates' own markup
    return neutralise(value, marker)


def header_text(value: str) -> str:
    text = " ".join(inert(value).split())
    return text if len(text) <= HEADER_LIMIT else text[: HEADER_LIMIT - 1].rstrip() + "…"


FILTERS = {
    "inert": inert,
    "header_text": header_text,
    "sentence": sentence,
    "subcategory": subcategory,
    "rule_text": rule_text,
    "file_size": file_size,
    "thousands": lambda n: f"{n:,}",
    "utc_time": utc_time,
    "period": period,
    "number": number,
    "percent": lambda value: f"{number(value * 100)}%",
}


@functools.cache
def template_environment() -> jinja2.Environment:
    """The only Jinja2 environment: every value escaped, every missing name an error."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=inert,  # no template line can forget it
    )
    environment.filters.update(FILTERS)
    return environment


def render_html(**context: Any) -> str:
    return template_environment().get_template(PACKET_TEMPLATE).render(**context)


# --- PDF ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedFile:
    name: str
    description: str
    data: bytes
    timestamp: datetime  # written as the attachment's creation and modification date


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


def render_pdf(html: str, *, generated_at: datetime, attachments: list[EmbeddedFile], identifier: bytes) -> RenderedPdf:
    """Lay out `html` and write the PDF; same inputs, same bytes."""
    from weasyprint import HTML, Attachment

    fetcher = make_url_fetcher()
    with _environment("FONTCONFIG_FILE", str(ASSETS_DIR / "fonts" / "fonts.conf")):
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render()
    # Without explicit dates the PDF would carry none (or the clock's, in PDF/A variants).
    stamp = f"{generated_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}+00:00"
    document.metadata.created = document.metadata.modified = stamp
    embedded = [
        Attachment(
            string=file.data,
            url_fetcher=fetcher,
            name=file.name,
            description=inert(file.description),  # shown by viewers' attachment panels
            created=file.timestamp.astimezone(UTC),
            modified=file.timestamp.astimezone(UTC),
        )
        for file in attachments
    ]
    # fontTools stamps the fonts it rewrites with the clock unless SOURCE_DATE_EPOCH is set.
    with _environment("SOURCE_DATE_EPOCH", str(int(generated_at.timestamp()))):
        data = document.write_pdf(attachments=embedded, pdf_identifier=identifier)
    return RenderedPdf(data, len(document.pages))


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """One environment variable set while WeasyPrint works, then restored (it is process-wide).

    FONTCONFIG_FILE: fontconfig reads it when WeasyPrint builds its font configuration, so the
    layout sees only the packet's own fonts. SOURCE_DATE_EPOCH: fontTools' subsets carry no clock.
    """
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous
