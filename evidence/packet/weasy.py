"""WeasyPrint, imported without the library search that costs a quarter to two fifths of a second.

WeasyPrint opens Pango, HarfBuzz and fontconfig through cffi, trying six names for each library.
For every name that does not load as it is, cffi asks `ctypes.util.find_library`, which on Linux
runs `ldconfig -p`, then gcc, then ld: 26 lookups at each import, 0.39 s of a 0.7-0.9 s import on
the project machine (docs/PERFORMANCE.md). Every list also holds the library's Linux soname
(`libpango-1.0.so.0`), which the dynamic loader finds by itself; so on Linux the search is
skipped while WeasyPrint is imported, and where that finds nothing (a library the loader cannot
see by its soname) the import is tried again with the search, as WeasyPrint itself would do it.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType

_LOCK = threading.Lock()


def weasyprint() -> ModuleType:
    """The `weasyprint` module, imported once per process (the first call pays for the import)."""
    module = sys.modules.get("weasyprint")
    if module is not None:
        return module
    with _LOCK:
        return import_without_library_search(lambda: importlib.import_module("weasyprint"))


def import_without_library_search(load: Callable[[], ModuleType], *, platform: str = sys.platform) -> ModuleType:
    """`load()` with find_library answering None in this thread (Linux only); on OSError, `load()` as is."""
    if not platform.startswith("linux"):
        return load()
    try:
        with _no_library_search():
            return load()
    except OSError:  # a library only the search finds: the import as WeasyPrint does it
        return load()


@contextlib.contextmanager
def _no_library_search() -> Iterator[None]:
    import ctypes.util

    real = ctypes.util.find_library
    caller = threading.get_ident()

    def find_library(name: str) -> str | None:
        return None if threading.get_ident() == caller else real(name)  # other threads search as usual

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = real
