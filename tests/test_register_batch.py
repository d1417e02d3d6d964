"""Registration in batches: one durable flush per batch, and what a kill or an error inside a batch leaves.

The durability order of a batch (evidence.store.blobstore.LocalBlobStore.publish): every file's
data fsynced, the intent markers made durable, the renames into place, each touched folder fsynced,
and only then the commit naming the blobs. Kills here are real SIGKILLs of a child process, sent
by the child itself at the exact moment under test.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.conftest import REPO, SAMPLE, sqlite_only
from tests.test_faults import assert_consistent, child_env, part_files, query, store_files

TIN = "000123456"
REGISTER = ("--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", "--effective-date", "2020-06-01")


@pytest.fixture
def sample(run) -> None:
    run("import", SAMPLE / "practice.csv")


def _folder(tmp_path: Path, count: int, name: str = "batch") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for i in range(count):
        (folder / f"sheet-{i:04d}.txt").write_bytes(f"{name}: sign-in sheet {i}\n".encode() * 20)
    return folder


def _markers(home: Path) -> list[Path]:
    return sorted((home / "store" / "pending").glob("*"))


def _marked(home: Path) -> list[str]:
    """The digests the intent markers list, read as recovery reads them (a batch's marker lists many)."""
    from evidence.store.blobstore import LocalBlobStore

    return sorted(LocalBlobStore(home / "store").interrupted(all_dead=True).intents)


def _killed_child(home: Path, folder: Path, patch: str) -> subprocess.CompletedProcess[str]:
    """Run `evidence register` in a child that applies `patch` first (it SIGKILLs itself at its moment)."""
    code = (
        "import os, signal, sys\n"
        "from evidence.store import registration, blobstore\n"
        f"{patch}\n"
        "from evidence.cli import cli\n"
        "cli.main(sys.argv[1:], prog_name='evidence')\n"
    )
    args = [sys.executable, "-c", code, "register", str(folder), *REGISTER]
    result = subprocess.run(args, env=child_env(home), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr  # killed, not finished
    return result


# The moment between a batch's publish (blobs durable, in place, marked) and its commit.
KILL_BEFORE_COMMIT = """
def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
registration.record_batch = killed
"""


@sqlite_only  # reads the child's SQLite file directly
def test_a_kill_between_the_flush_and_the_commit_leaves_only_marked_blobs_that_verify_recovers(
    run, home: Path, tmp_path: Path, sample
) -> None:
    folder = _folder(tmp_path, 30)
    _killed_child(home, folder, KILL_BEFORE_COMMIT)
    left = store_files(home)
    assert len(left) == 30  # every blob of the batch was durable and in place before the commit ...
    assert _marked(home) == sorted(left)  # ... and each is marked,
    assert len(_markers(home)) == 1 and _markers(home)[0].name.endswith(".intents")  # in one marker for the batch
    assert part_files(home) == []  # no temporary: all were renamed
    assert query(home, "SELECT COUNT(*) FROM evidence") == 0 and query(home, "SELECT COUNT(*) FROM blobs") == 0
    found = assert_consistent(run, home)  # verify exits 0, every line "recovered:", no marker or .part left
    assert found["never committed"] == 30 and store_files(home) == set()
    out = run("register", folder, *REGISTER).output
    assert "30 registered, 0 already present, 0 failed" in out
    assert run("verify").output == "30 stored files checked: 0 problems\n"


# SIGKILL while the 500th file of 1,000 is being staged: batches 1 and 2 (400 files) are committed.
KILL_AT_FILE_500 = """
real_stage, count = blobstore.LocalBlobStore.stage, [0]
def stage(self, source, **kwargs):
    count[0] += 1
    if count[0] == 500:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_stage(self, source, **kwargs)
blobstore.LocalBlobStore.stage = stage
"""


@sqlite_only
def test_a_kill_at_file_500_of_1000_keeps_the_committed_batches_and_leaves_nothing_unmarked(
    run, home: Path, tmp_path: Path, sample
) -> None:
    folder = _folder(tmp_path, 1000)
    _killed_child(home, folder, KILL_AT_FILE_500)
    assert query(home, "SELECT COUNT(*) FROM evidence") == 400  # two whole batches of 200; the third lost whole
    assert query(home, "SELECT COUNT(*) FROM events WHERE action = 'register'") == 400
    assert store_files(home) == set(_digests(home))  # no blob of the interrupted batch: it was never published
    assert _markers(home) == []  # the committed batches settled theirs
    assert len(part_files(home)) == 99  # files 401-499, staged (not durable, not in place): temporaries only
    found = assert_consistent(run, home)
    assert found["temporary"] == 99 and found["never committed"] == 0
    out = run("register", folder, *REGISTER).output
    assert "600 registered, 400 already present, 0 failed" in out
    assert run("verify").output == "1000 stored files checked: 0 problems\n"


def _digests(home: Path) -> list[str]:
    connection = sqlite3.connect(home / "evidence.sqlite3")
    try:
        return [row[0] for row in connection.execute("SELECT digest FROM blobs")]
    finally:
        connection.close()


def test_an_error_in_file_500_of_1000_leaves_its_batch_unregistered_and_nothing_behind(
    app, home: Path, tmp_path: Path, monkeypatch, sample
) -> None:
    """An exception (here Ctrl-C) while staging file 500: batches 1-2 stay, the third leaves no trace."""
    from evidence.store.blobstore import LocalBlobStore
    from evidence.store.registration import FileToRegister, LinkRequest, register_files

    folder = _folder(tmp_path, 1000)
    request = LinkRequest(TIN, 2020, "IA_PM_7")
    files = [FileToRegister(p, request, date(2020, 6, 1)) for p in sorted(folder.iterdir())]
    real_stage, count = LocalBlobStore.stage, [0]

    def stage(self, source, **kwargs):  # type: ignore[no-untyped-def]
        count[0] += 1
        if count[0] == 500:
            raise KeyboardInterrupt
        return real_stage(self, source, **kwargs)

    monkeypatch.setattr(LocalBlobStore, "stage", stage)
    with pytest.raises(KeyboardInterrupt), app.write() as session:
        register_files(session, app.blob_store, files, actor="tester")
    with app.read() as session:
        from sqlalchemy import func, select

        from evidence.db.models import Blob, Event, Evidence

        assert session.scalar(select(func.count()).select_from(Evidence)) == 400
        assert session.scalar(select(func.count()).select_from(Event).where(Event.action == "register")) == 400
        named = set(session.scalars(select(Blob.digest)))
    assert store_files(home) == named  # no orphan blob, marked or not
    assert part_files(home) == [] and _markers(home) == []  # the staged temporaries were removed at once


def test_the_same_content_twice_in_one_batch_is_stored_once_and_recorded_once(
    run, app, home: Path, tmp_path: Path, sample
) -> None:
    """As across runs: the same bytes with the same link are one record; the second copy is "already present"."""
    folder = _folder(tmp_path, 5)
    (folder / "copy-of-sheet-0002.txt").write_bytes((folder / "sheet-0002.txt").read_bytes())
    out = run("register", folder, *REGISTER).output
    assert "5 registered, 1 already present, 0 failed" in out
    assert "registered copy-of-sheet-0002.txt: evidence 1:" in out  # the first of the two in the batch's order
    listed = json.loads(run("list", "--format", "json").output)
    assert sorted(e["name"] for e in listed) == ["copy-of-sheet-0002.txt"] + [
        f"sheet-{i:04d}.txt" for i in range(5) if i != 2
    ]
    assert len(store_files(home)) == 5  # one blob for the two copies
    assert part_files(home) == [] and _markers(home) == []  # the duplicate's temporary is gone too
    assert run("verify").output == "5 stored files checked: 0 problems\n"
    assert "0 registered, 6 already present, 0 failed" in run("register", folder, *REGISTER).output


def test_a_file_that_changes_during_a_batch_fails_alone(run, app, home: Path, tmp_path: Path, monkeypatch, sample):
    """The 4th of 8 files grows while it is being copied: refused, the other 7 of its batch register."""
    import evidence.store.blobstore as blobstore

    folder = _folder(tmp_path, 8)
    growing = folder / "sheet-0003.txt"
    real_read, appended = os.read, []

    def read_and_append(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        if data and not appended and os.path.samefile(f"/proc/self/fd/{fd}", growing):
            appended.append(True)
            with open(growing, "ab") as handle:
                handle.write(b"a line written while the file was being stored\n")
        return data

    monkeypatch.setattr(blobstore.os, "read", read_and_append)
    out = run("register", folder, *REGISTER, expect=1).output
    assert f"Error: {growing}: changed while it was being stored; register it again once it is complete" in out
    assert "7 registered, 0 already present, 1 failed" in out
    names = sorted(e["name"] for e in json.loads(run("list", "--format", "json").output))
    assert names == [f"sheet-{i:04d}.txt" for i in range(8) if i != 3]
    assert len(store_files(home)) == 7 and part_files(home) == [] and _markers(home) == []


def test_a_batch_is_durable_in_order_before_its_commit(app, home: Path, tmp_path: Path, monkeypatch, sample) -> None:
    """Data fsyncs, then the markers' folder, then the renames, then each blob folder, then the commit."""
    from evidence.store.registration import FileToRegister, LinkRequest, register_files

    folder = _folder(tmp_path, 12)
    request = LinkRequest(TIN, 2020, "IA_PM_7")
    files = [FileToRegister(p, request, date(2020, 6, 1)) for p in sorted(folder.iterdir())]
    steps: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace
    store = home / "store"

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.startswith(f"{store}/incoming/"):
            steps.append(("data", path))
        elif path == f"{store}/pending":
            steps.append(("markers", path))
        elif path.startswith(f"{store}/sha256/"):
            steps.append(("folder", path))
        real_fsync(fd)

    def replace(source, target) -> None:  # type: ignore[no-untyped-def]
        if str(target).startswith(f"{store}/sha256/"):
            assert Path(target).name in _marked(home), "renamed before its marker"
            steps.append(("rename", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    event.listen(app.engine, "commit", lambda _conn: steps.append(("commit", "")))
    with app.write() as session:
        outcomes = register_files(session, app.blob_store, files, actor="tester")
    assert len(outcomes) == 12 and all(o.evidence_id for o in outcomes)
    kinds = [kind for kind, _ in steps]
    first = kinds.index("data")  # (opening the store commits too, before the batch)
    registering = kinds[first : kinds.index("commit", first) + 1]  # the batch, up to its commit
    order = ["data", "markers", "rename", "folder", "commit"]
    assert [k for i, k in enumerate(registering) if i == 0 or k != registering[i - 1]] == order, kinds
    assert kinds.count("data") == 12 and kinds.count("rename") == 12 and kinds.count("markers") == 1
    folders = {path for kind, path in steps if kind == "folder"}
    assert kinds.count("folder") == len(folders)  # each touched folder once
    assert folders == {str(Path(target).parent) for kind, target in steps if kind == "rename"}


def test_the_statements_of_a_batch_do_not_grow_with_its_files(app, tmp_path: Path, sample) -> None:
    from evidence.store.registration import FileToRegister, LinkRequest, register_files

    request = LinkRequest(TIN, 2020, "IA_PM_7")

    def statements(count: int, name: str) -> int:
        folder = _folder(tmp_path, count, name)
        files = [FileToRegister(p, request, date(2020, 6, 1)) for p in sorted(folder.iterdir())]
        issued: list[str] = []
        listener = lambda *args: issued.append(args[2])  # noqa: E731
        event.listen(app.engine, "before_cursor_execute", listener)
        try:
            with app.write() as session:
                outcomes = register_files(session, app.blob_store, files, actor="tester")
        finally:
            event.remove(app.engine, "before_cursor_execute", listener)
        assert [o.status.value for o in outcomes] == ["registered"] * count
        return len(issued)

    statements(2, "first")  # the first write of a command also checks the store id
    assert statements(3, "three") == statements(150, "many")  # one batch each: the same statements
