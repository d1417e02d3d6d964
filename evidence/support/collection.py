"""Pausing Python's cyclic garbage collector while a large result is built.

Building the missing report of 100,000 links allocates a few hundred thousand container
objects, none of them garbage; with the default thresholds the collector runs hundreds of
young collections and several full ones over them, which cost about 40% of the report
(docs/PERFORMANCE.md). Reference counting still frees everything as usual; only cycles wait
until the pause ends.

Process-wide, and safe with threads (the web app): the collector is switched off when the
first pause starts, if it was on, and back on when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collection_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
