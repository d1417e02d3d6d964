"""How a stored file is handed to a browser: always as an attachment, under a name that cannot
inject a header, with a media type that no browser renders as a page."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

# Types a browser would run as a document (script, styles, links) if it ever showed one inline:
# sent as plain bytes. Every other stored type (PDF, images, text, office files) is sent as stored.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "text/css",
    }
)
OCTET_STREAM = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_PLAIN = re.compile(r"[^A-Za-z0-9._()+-]+")  # what the quoted ASCII fallback keeps; a run of the rest is one "_"


def served_media_type(stored: str) -> str:
    """The stored media type, unless it is an active one or not a well-formed type/subtype."""
    essence = stored.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(essence) or essence in ACTIVE_TYPES:
        return OCTET_STREAM
    return essence


def _visible(name: str) -> str:
    """The name without controls, bidi overrides and other invisible format characters, or path separators."""
    kept = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"})
    return kept.replace("/", "_").replace("\\", "_").strip(" .")


def content_disposition(name: str, fallback: str) -> str:
    """`attachment; filename="ascii"` plus RFC 5987 `filename*=UTF-8''...` when the name is not plain
    ASCII (RFC 6266 section 4.3): the quoted form never holds a quote, backslash, CR or LF."""
    visible = _visible(name) or fallback
    plain = _PLAIN.sub("_", unicodedata.normalize("NFKD", visible).encode("ascii", "ignore").decode("ascii"))
    stem, dot, extension = plain.rpartition(".")
    if not dot:
        stem, extension = plain, ""
    plain = (stem.strip("._") or fallback) + (f".{extension}" if extension.strip("_") else "")
    header = f'attachment; filename="{plain}"'
    if visible != plain:
        header += f"; filename*=UTF-8''{quote(visible, safe='')}"
    return header
