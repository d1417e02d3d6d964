"""HTML and PDF for the audit packet: one Jinja2 environment, one locked-down URL fetcher.

Evidence descriptions and file names are user text: they are escaped by the templates, and
even if markup slipped through, WeasyPrint can fetch nothing but the packet's own CSS and
fonts. WeasyPrint is imported inside the functions, by evidence.packet.weasy (it takes half a
second to import).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from urllib.request import url2pathname

import jinja2
import markupsafe

from evidence.packet.weasy import weasyprint
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


# An evidence row's link to its embedded file: `<a rel="attachment" href="evidence-attachment:NAME">`.
ATTACHMENT_SCHEME = "evidence-attachment:"


def attachment_url(name: str) -> str:
    return ATTACHMENT_SCHEME + quote(name, safe="")


def fetch_packet_url(url: str, attachment_names: frozenset[str]) -> tuple[bytes, str]:
    """A packaged asset, or the empty placeholder of a linked attachment (the finisher points its
    annotation at the embedded file itself); anything else is refused."""
    if url.startswith(ATTACHMENT_SCHEME):
        if unquote(url[len(ATTACHMENT_SCHEME) :]) not in attachment_names:
            raise AssetRefused(f"refused {url}: not one of the packet's attachments")
        return b"", "application/octet-stream"
    return packaged_asset(url)


def make_url_fetcher(attachment_names: frozenset[str] = frozenset()) -> Any:
    """A WeasyPrint URL fetcher that serves only `fetch_packet_url`."""
    urls: Any = weasyprint().urls

    if hasattr(urls, "URLFetcherResponse"):  # newer WeasyPrint: fetchers are URLFetcher objects
        # WeasyPrint has no type hints, so URLFetcher is Any to mypy: subclassing it is [misc].
        class PackagedAssetFetcher(urls.URLFetcher):  # type: ignore[misc]
            def fetch(self, url: str, headers: Any = None) -> Any:
                body, media_type = fetch_packet_url(url, attachment_names)
                return urls.URLFetcherResponse(url, body, {"Content-Type": media_type})

        return PackagedAssetFetcher()

    def fetch(url: str) -> dict[str, Any]:  # older WeasyPrint: a function returning a dict
        body, media_type = fetch_packet_url(url, attachment_names)
        return {"string": body, "mime_type": media_type, "redirected_url": url}

    return fetch


# --- HTML ---------------------------------------------------------------------------------------


def file_size(size: int) -> str:
    """25 B, 2.4 KB, 1.3 MB: the one size style of the packet (binary multiples, one decimal)."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KB", "MB", "GB"):
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


DIGEST_GROUP = 8


def digest_groups(digest: str) -> str:
    """A SHA-256 in groups of 8 hex digits, so it wraps between groups and is read group by group."""
    return " ".join(digest[i : i + DIGEST_GROUP] for i in range(0, len(digest), DIGEST_GROUP))


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
    "digest_groups": digest_groups,
    "attachment_url": attachment_url,
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


def render_html(template: str = PACKET_TEMPLATE, /, **context: Any) -> str:
    return template_environment().get_template(template).render(**context)


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
    # Each HTML id (anchor) and the 1-based page where its box starts, read from the layout itself.
    anchors: dict[str, int] = field(default_factory=dict)


# From this many pages on, render_pdf collects the layout's garbage before writing (see there).
COLLECT_AFTER_PAGES = 50

# Archival (PDF/A-3b allows embedded files) and tagged (a structure tree for screen readers).
PDF_VARIANT = "pdf/a-3b"


def render_pdf(html: str, *, generated_at: datetime, attachments: list[EmbeddedFile], identifier: bytes) -> RenderedPdf:
    """Lay out `html` and write the PDF; same inputs, same bytes."""
    names = frozenset(file.name for file in attachments)
    document = layout_html(html, names)
    anchors: dict[str, int] = {}
    for number, page in enumerate(document.pages, 1):  # a box split over pages names each: keep its first
        for name in page.anchors:
            anchors.setdefault(name, number)
    # Layout leaves its discarded boxes in reference cycles (1.8 million objects for the 358-page
    # bench packet) that the collector's own schedule reaches late: collected here, their memory
    # is reused by the write instead of adding to the peak (1.26 GB -> 0.99 GB for that packet).
    # A full collection walks every object of the process (0.2 s in a 9-page packet's 1.1 s), and a
    # short packet's cycles are a few MB: only a long one pays for it.
    if len(document.pages) >= COLLECT_AFTER_PAGES:
        gc.collect()
    data = write_document(document, generated_at=generated_at, attachments=attachments, identifier=identifier)
    return RenderedPdf(data, len(document.pages), anchors)


def layout_html(html: str, attachment_names: frozenset[str]) -> Any:
    """The laid-out WeasyPrint document (its pages), with only the packet's own fonts in sight."""
    HTML = weasyprint().HTML

    fetcher = make_url_fetcher(attachment_names)
    with _environment("FONTCONFIG_FILE", str(ASSETS_DIR / "fonts" / "fonts.conf")):
        return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render()


def write_document(
    document: Any, *, generated_at: datetime, attachments: list[EmbeddedFile], identifier: bytes
) -> bytes:
    """The PDF/A-3b, tagged bytes of a laid-out document, its files embedded and linked from their rows."""
    Attachment = weasyprint().Attachment

    fetcher = make_url_fetcher(frozenset(file.name for file in attachments))
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
        data: bytes = document.write_pdf(
            attachments=embedded,
            pdf_identifier=identifier,
            pdf_variant=PDF_VARIANT,
            pdf_tags=True,
            finisher=_link_rows_to_attachments,
        )
    return data


def _link_rows_to_attachments(document: Any, pdf: Any) -> None:
    """Point each evidence row's file-attachment annotation at the embedded file of the same name.

    WeasyPrint gives every `<a rel="attachment">` a file of its own (here the empty placeholder,
    dated by the clock); the annotations then open the one embedded copy, described with its
    SHA-256, and the placeholders are emptied so they carry neither bytes nor dates.
    """
    import pydyf

    catalog = pdf.catalog
    if "Names" not in catalog or "EmbeddedFiles" not in catalog["Names"]:
        return
    names = pdf.objects[_number(catalog["Names"]["EmbeddedFiles"])]["Names"]
    embedded = {pdf.objects[_number(ref)]["UF"].string: ref for ref in names[1::2]}
    placeholders: set[int] = set()
    for annotation in [o for o in pdf.objects if isinstance(o, dict) and o.get("Subtype") == "/FileAttachment"]:
        placeholder = _number(annotation["FS"])
        filespec = pdf.objects[placeholder]
        target = embedded.get(filespec["UF"].string) if "UF" in filespec else None
        if target is None:  # never ship a clock-dated placeholder: the packet would no longer reproduce
            raise RuntimeError(f"a packet link names no embedded file: {filespec.get('UF')}")
        annotation["FS"] = target
        annotation["Contents"] = pydyf.String(f"Attached file {filespec['UF'].string}")  # what a reader announces
        placeholders.add(placeholder)
    for number in placeholders:
        filespec = pdf.objects[number]
        if "EF" in filespec:
            stream = pdf.objects[_number(filespec["EF"]["F"])]
            stream.stream, stream.extra = [], {}
        filespec.clear()
    if "AF" in catalog:  # WeasyPrint lists each embedded file twice (names tree and filespec scan): once each
        kept = list(dict.fromkeys(ref for ref in catalog["AF"] if _number(ref) not in placeholders))
        catalog["AF"].clear()
        catalog["AF"].extend(kept)


def _number(reference: Any) -> int:
    """The object number of a pydyf reference (b"12 0 R")."""
    text = reference.decode() if isinstance(reference, bytes) else str(reference)
    return int(text.split()[0])


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
