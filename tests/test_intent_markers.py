"""Intent markers: one per batch, settled blob by blob, and read back by recovery in every shape.

A marker says "these blobs are new and nothing named them yet"; recovery removes a marked blob the
database does not name, and only the marker of one it names. A batch writes one marker listing its
new blobs (creating a file is the dearest step of storing a small one), a batch of one an empty
marker named by its digest, the only kind versions before 2026-12-02 wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evidence.store.blobstore import LocalBlobStore
from evidence.store.recovery import recover

DEAD = "999999999"  # no such process


def _sources(tmp_path: Path, count: int) -> list[Path]:
    folder = tmp_path / "sources"
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"sheet-{i}.txt"
        path.write_text(f"sign-in sheet {i}\n", encoding="utf-8")
        paths.append(path)
    return paths


def _published(store: LocalBlobStore, sources: list[Path]) -> list[str]:
    staged = [store.stage(path) for path in sources]
    try:
        store.publish(staged)
    finally:
        store.discard(staged)
    assert all(s.stored is not None and s.stored.created for s in staged)
    return [s.digest for s in staged]


def _opened(app):  # type: ignore[no-untyped-def]
    """The app's store, given its id as the first write does (before any file is in it)."""
    with app.write():
        pass
    return app.blob_store


def _stored(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "store" / "sha256").rglob("*") if p.is_file())


def _markers(store: LocalBlobStore) -> list[Path]:
    return sorted(store.pending.iterdir())


def _as_dead(marker: Path) -> Path:
    """The marker as a killed process would have left it."""
    return marker.rename(marker.with_name(f"{DEAD}-{marker.name.split('-', 1)[1]}"))


def test_a_batch_writes_one_marker_that_goes_with_its_last_settled_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    digests = _published(store, _sources(tmp_path, 3))
    [marker] = _markers(store)
    assert marker.name.startswith(f"{os.getpid()}-") and marker.name.endswith(".intents")
    assert sorted(marker.read_text(encoding="ascii").split()) == sorted(digests)
    assert marker.stat().st_mode & 0o777 == 0o600
    store.settle(digests[:2])
    assert _markers(store) == [marker]  # one blob is still unnamed: the marker stays, listing all three
    store.settle(digests[2:])
    assert _markers(store) == []


def test_a_batch_of_one_writes_an_empty_marker_named_by_its_digest(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    [digest] = _published(store, _sources(tmp_path, 1))
    [marker] = _markers(store)
    assert marker.name == f"{os.getpid()}-{digest}" and marker.stat().st_size == 0
    store.settle([digest])
    assert _markers(store) == []


@pytest.mark.parametrize(
    "shape",
    ["batch marker", "one marker per blob (before 2026-12-02)"],
)
def test_recovery_removes_the_unnamed_blobs_a_killed_batch_marked_and_keeps_the_named(
    tmp_path: Path, app, home: Path, shape: str
) -> None:
    """A batch killed after some of its blobs were named (by this batch or another registration)."""
    store = _opened(app)
    digests = _published(store, _sources(tmp_path, 4))
    [marker] = _markers(store)
    if shape.startswith("one marker"):
        marker.unlink()
        for digest in digests:
            (store.pending / f"{DEAD}-{digest}").touch()
    else:
        _as_dead(marker)
    named = digests[:2]
    with app.write() as session:  # two of them are evidence now: rows name their blobs
        from evidence.db.models import Blob

        session.add_all(Blob(digest=d, size=1, media_type="text/plain") for d in named)
        session.commit()
        done = recover(session, store)
    assert sorted(done.lines) == sorted(
        f"removed file {d} stored by an interrupted registration, never committed" for d in digests[2:]
    )
    assert _stored(home) == sorted(named) and _markers(store) == []


def test_a_marker_torn_by_a_crash_is_read_as_far_as_it_goes(tmp_path: Path, app, home: Path) -> None:
    """A crash while the marker was written (before any rename): a half line is no digest."""
    store = _opened(app)
    digests = _published(store, _sources(tmp_path, 3))
    marker = _as_dead(_markers(store)[0])
    marker.write_bytes(f"{digests[0]}\n{digests[1][:30]}".encode() + b"\0" * 40)  # torn, then unwritten
    listed = store.interrupted(all_dead=False)
    assert list(listed.intents) == [digests[0]] and listed.markers == [marker]
    with app.write() as session:
        done = recover(session, store)
    assert done.lines == [f"removed file {digests[0]} stored by an interrupted registration, never committed"]
    assert _stored(home) == sorted(digests[1:])  # unmarked: verify reports them as orphans
    assert _markers(store) == []


def test_markers_of_a_live_process_are_left_alone_without_the_exclusive_lock(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    digests = _published(store, _sources(tmp_path, 2))
    assert store.interrupted(all_dead=False).intents == {}  # this process is alive: its batch is in flight
    assert sorted(store.interrupted(all_dead=True).intents) == sorted(digests)
