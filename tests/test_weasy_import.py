"""WeasyPrint imported without ctypes' library search (evidence.packet.weasy), and as usual where that fails."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import threading
from types import ModuleType

import pytest

from evidence.packet.weasy import import_without_library_search
from tests.conftest import REPO

# In a fresh interpreter: any subprocess (what find_library starts: ldconfig, gcc, ld) fails the import.
NO_SUBPROCESS = """
import ctypes.util, subprocess, sys
real = ctypes.util.find_library
def refuse(*args, **kwargs):
    raise AssertionError(f"a subprocess while importing WeasyPrint: {args[1] if len(args) > 1 else kwargs}")
subprocess.Popen.__init__ = refuse
from evidence.packet.weasy import weasyprint
module = weasyprint()
assert ctypes.util.find_library is real, "find_library not restored"
assert weasyprint() is module and module.HTML and module.Attachment
print(module.__version__)
"""


@pytest.mark.postgresql  # the child inherits the test's environment (it opens no store)
def test_weasyprint_is_imported_without_starting_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_SUBPROCESS], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split(".")[0].isdigit()


def _module() -> ModuleType:
    return ModuleType("fake_weasyprint")


@pytest.fixture
def searching(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """ctypes' search, stood in for (the real one starts ldconfig): it finds every library."""
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: f"lib{name}.so.6")
    return ctypes.util.find_library


def test_a_library_only_the_search_finds_is_imported_with_the_search(searching) -> None:  # type: ignore[no-untyped-def]
    """Where no soname loads by itself, the import runs again as WeasyPrint would run it."""
    attempts: list[str | None] = []

    def load() -> ModuleType:
        found = ctypes.util.find_library("gobject-2.0")
        attempts.append(found)
        if found is None:
            raise OSError("cannot load library 'gobject-2.0-0'")  # what cffi raises
        return _module()

    assert import_without_library_search(load, platform="linux").__name__ == "fake_weasyprint"
    assert attempts == [None, "libgobject-2.0.so.6"]
    assert ctypes.util.find_library is searching  # restored


def test_other_threads_search_as_usual_meanwhile(searching) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, str | None] = {}

    def load() -> ModuleType:
        seen["importing thread"] = ctypes.util.find_library("c")
        other = threading.Thread(target=lambda: seen.update({"other thread": ctypes.util.find_library("c")}))
        other.start()
        other.join()
        return _module()

    import_without_library_search(load, platform="linux")
    assert seen == {"importing thread": None, "other thread": "libc.so.6"}
    assert ctypes.util.find_library is searching


def test_elsewhere_than_linux_the_import_is_left_as_it_is(searching) -> None:  # type: ignore[no-untyped-def]
    seen: list[str | None] = []
    import_without_library_search(lambda: seen.append(ctypes.util.find_library("c")) or _module(), platform="darwin")
    assert seen == ["libc.so.6"]
