"""Run one `evidence` command with wall-clock timers around the phases of a registration.

    python bench/register_phases.py register FOLDER --tin ... (any evidence arguments)

Prints one JSON object on stderr after the command: seconds per phase (each measured in the main
thread, so a phase whose work runs in threads counts its wall time once), call counts, and the SQL
statements issued. Used by `bench_register.py --profile`; the library carries no timing code.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

START = time.perf_counter()
SECONDS: Counter[str] = Counter()
CALLS: Counter[str] = Counter()
CPU: Counter[str] = Counter()  # CPU time of the calling thread: steadier than wall time on a busy machine
WHOLE = "registration (all of it)"
LOCK = threading.Lock()  # media type sniffing also runs in the staging threads


def timed(owner: Any, name: str, phase: str) -> None:
    """Replace owner.name by a wrapper adding its wall time to `phase` (outermost call only)."""
    original: Callable[..., Any] | None = getattr(owner, name, None)
    if original is None:  # an older version of the code (compared by hand): no such phase
        return
    ORDER.append(phase)
    local = threading.local()

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            local.depth = depth
            if depth == 0:
                with LOCK:
                    SECONDS[phase] += time.perf_counter() - start
                    CPU[phase] += time.thread_time() - cpu
                    CALLS[phase] += 1

    if isinstance(owner, type) and isinstance(owner.__dict__.get(name), staticmethod):
        setattr(owner, name, staticmethod(wrapper))
    else:
        setattr(owner, name, wrapper)


ORDER: list[str] = []  # phases in the order they were set up


def main(argv: list[str]) -> int:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from evidence.app import App
    from evidence.catalog import store as catalog_store
    from evidence.cli import cli
    from evidence.db import migrate
    from evidence.retention import audit
    from evidence.store import blobstore, registration
    from evidence.store.blobstore import LocalBlobStore

    imported = time.perf_counter()
    statements = [0]
    event.listen(Engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    # Opening the store and closing it (outside registration proper):
    timed(migrate, "ensure_schema", "open: schema check")
    timed(catalog_store, "sync_shipped_catalog", "open: catalog sync")
    timed(App, "_check_identity", "open: store id check")
    timed(App, "_refuse_unsafe_write", "open: audit-head check")
    timed(App, "_mirror_audit_head", "close: audit-head mirror")
    timed(App, "close", "close: engine dispose")
    # Registration (register_files), phase by phase:
    timed(registration, "register_files", WHOLE)
    timed(registration, "recover", "recovery of killed runs")
    timed(registration, "_prepare", "check files, find attestations")
    timed(registration, "_stage_all", "hash + copy to temporaries")
    timed(blobstore, "sniff_media_type", "  of which: media type sniffing")
    timed(LocalBlobStore, "_flush_data", "fsync of file data")
    timed(LocalBlobStore, "_intend", "intent markers (+ fsync)")
    timed(LocalBlobStore, "_rename_into_place", "rename into place")
    timed(LocalBlobStore, "_sync_folders", "fsync of folders")
    timed(registration, "record_batch", "SQL: rows + audit events")
    timed(audit, "record_many", "  of which: audit events")
    timed(Session, "commit", "commit")
    code = 0
    try:
        cli.main(argv, prog_name="evidence")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    total = time.perf_counter() - START
    report = {
        "total": total,
        "start-up (interpreter + imports)": imported - START,
        "phases": {name: SECONDS[name] for name in ORDER if name in SECONDS},
        "calls": dict(CALLS),
        "cpu": dict(CPU),
        "sql_statements": statements[0],
    }
    print(json.dumps(report), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
