"""When Python's cyclic garbage collector runs: in larger batches in every command and the web
server, and not at all while a large result is built.

Building the missing report of 100,000 links allocates a few hundred thousand container
objects, none of them garbage; with the default thresholds the collector runs hundreds of
young collections and several full ones over them, which cost about 40% of the report
(docs/PERFORMANCE.md). Reference counting still frees everything as usual; only cycles wait
until the pause ends.

Process-wide, and safe with threads (the web app): the collector is switched off when the
first pause starts, if it was on, and back on when the last one ends.

Python's default thresholds (700, 10, 10) start a young collection every 700 new container
objects: a command's imports, a WeasyPrint layout and a report all allocate millions, and with
the default a full collection walks everything alive again and again. A young generation of
50,000 measured (docs/PERFORMANCE.md): the typical packet's render 3.04 s -> 2.58 s, its whole
command 4.36 s -> 3.82 s; in the server, dashboard p95 187-196 ms -> 64 ms on the 100k-link store.
Cycles are still collected, in larger batches.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_THRESHOLDS = (50_000, 50, 100)

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


def collect_in_batches() -> None:
    """Set the process's collector to BATCH_THRESHOLDS: called first by the command line (and so the server)."""
    gc.set_threshold(*BATCH_THRESHOLDS)
