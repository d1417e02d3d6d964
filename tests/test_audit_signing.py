"""The signed, anchored audit trail: whatever is done to the database and the mirror, a checkpoint kept
elsewhere still tells (docs/AUDIT-TRAIL.md)."""

from __future__ import annotations

import io
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from evidence.app import App
from evidence.config import resolve_settings
from evidence.retention.audit import HEAD_FILE, event_hash
from tests.conftest import SAMPLE, sqlite_only

TIN = "000123456"
HOLD = ("hold", "add", "--tin", TIN, "--reason")


@pytest.fixture
def key(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "officer" / "signing.key"  # outside the home folder and the store
    path.parent.mkdir()
    assert "public key fingerprint: ed25519:" in run("log", "keygen", path).output
    monkeypatch.setenv("EVIDENCE_SIGNING_KEY", str(path))
    return path


@pytest.fixture
def signed(run, key: Path, tmp_path: Path) -> Path:
    """A signed store, a checkpoint kept off-site at event N, then two more writes."""
    run("import", SAMPLE / "practice.csv")
    run(*HOLD, "audit letter")
    checkpoint = tmp_path / "officer" / "checkpoint.json"
    assert "written to" in run("log", "checkpoint", "-o", checkpoint).output
    run(*HOLD, "second letter")
    run("hold", "release", "2", "--reason", "mistake")
    return checkpoint


def _sql(app: App, *statements: str) -> None:
    with app.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def _count(app: App) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one())


def _rewrite_head_file(app: App, home: Path) -> None:
    """What a careful forger does: the mirror agrees with the (doctored) database again."""
    with app.engine.connect() as connection:
        seq, digest = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
        store = connection.execute(text("SELECT value FROM settings WHERE key = 'store_id'")).scalar_one()
    (home / HEAD_FILE).write_text(f"{seq} {digest}\nstore {store}\n", encoding="utf-8")


def _fix_head_row(app: App) -> None:
    _sql(app, "UPDATE audit_head SET seq = (SELECT MAX(seq) FROM events), "
              "hash = (SELECT hash FROM events ORDER BY seq DESC LIMIT 1)")  # fmt: skip


def _edit(app: App, home: Path) -> None:
    _sql(app, "UPDATE events SET summary = 'nothing happened' WHERE seq = 2")


def _insert(app: App, home: Path) -> None:
    from datetime import UTC, datetime

    with app.engine.begin() as connection:
        prev = connection.execute(text("SELECT hash FROM events WHERE seq = 1")).scalar()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        connection.execute(text("UPDATE events SET seq = seq + 100000 WHERE seq > 1"))
        connection.execute(text("UPDATE events SET seq = seq - 99999 WHERE seq > 100000"))
        connection.execute(
            text("INSERT INTO events (seq, occurred_at, actor, action, summary, details, prev_hash, hash) "
                 "VALUES (2, :at, 'mallory', 'withdraw', 'fake', '{}', :prev, :hash)"),
            {"at": at, "prev": prev, "hash": event_hash(2, at, "mallory", "withdraw", None, None, "fake", "{}", prev)},
        )  # fmt: skip


def _delete(app: App, home: Path) -> None:
    _sql(app, "DELETE FROM events WHERE seq = 2")


def _truncate(app: App, home: Path) -> None:
    """Cut the tail back past the checkpoint; head row, checkpoint rows and mirror made to agree."""
    count = _count(app)
    _sql(app, f"DELETE FROM events WHERE seq > {count - 3}", "DELETE FROM audit_checkpoints")
    _fix_head_row(app)
    _rewrite_head_file(app, home)


def _consistent_rewrite(app: App, home: Path) -> None:
    """Edit event 2 and recompute every hash after it: the chain itself is flawless again."""
    from evidence.db.models import Event

    with Session(app.engine) as session, session.begin():
        previous = None
        for event in session.scalars(select(Event).order_by(Event.seq)):
            if event.seq == 2:
                event.summary = "nothing happened"
            if previous is not None:
                event.prev_hash = previous
            event.hash = event_hash(event.seq, event.occurred_at, event.actor, event.action, event.tin,
                                    event.performance_year, event.summary, event.details, event.prev_hash)  # fmt: skip
            previous = event.hash
    _sql(app, "DELETE FROM audit_checkpoints")
    _fix_head_row(app)
    _rewrite_head_file(app, home)


def _remove_head_file(app: App, home: Path) -> None:
    (home / HEAD_FILE).unlink()


def _foreign_head_file(app: App, home: Path) -> None:
    other = home.parent / "other"
    other_app = App(resolve_settings(other, f"sqlite:///{other / 'evidence.sqlite3'}"), actor="tester")
    other_app.engine  # noqa: B018 - a store of its own: its catalog sync writes its own mirror
    other_app.close()
    shutil.copyfile(other / HEAD_FILE, home / HEAD_FILE)


TAMPERING: dict[str, tuple[Callable[[App, Path], None], str]] = {
    "edited event": (_edit, "event #2 was altered"),
    "inserted event": (_insert, "event #3 does not follow event #2"),
    "deleted event": (_delete, "event #2 is missing"),
    "tail truncated, head row, checkpoints and mirror fixed": (_truncate, "events deleted from the end"),
    "consistent rewrite with recomputed hashes": (_consistent_rewrite, "the log was rewritten"),
    "audit-head removed": (_remove_head_file, "audit-head is missing"),
    "audit-head of another store": (_foreign_head_file, "audit-head belongs to another store"),
}


def test_untampered_signed_chain_is_intact_against_its_checkpoint(run, signed: Path) -> None:
    out = run("log", "verify", "--checkpoint", signed).output
    assert "audit trail intact" in out and "held against 1 checkpoint file" in out
    assert "signed by ed25519:" in out and "carry no checkpoint" not in out  # every write signed its head


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_detected_against_a_checkpoint(run, app: App, home: Path, signed: Path, case: str) -> None:
    tamper, expected = TAMPERING[case]
    tamper(app, home)
    out = run("log", "verify", "--checkpoint", signed, expect=1).output
    assert "audit trail BROKEN" in out and expected in out, out


def test_a_consistent_rewrite_passes_without_a_key_and_checkpoint(run, app: App, home: Path) -> None:
    """The limit docs/AUDIT-TRAIL.md states: unsigned, a rewrite with recomputed hashes is not detectable."""
    run("import", SAMPLE / "practice.csv")
    run(*HOLD, "audit letter")
    _consistent_rewrite(app, home)
    out = run("log", "verify").output
    assert "audit trail intact" in out and "unsigned" in out


def test_the_mirrored_checkpoint_catches_a_rewrite_without_the_off_site_file(run, app, home, signed) -> None:
    from evidence.db.models import Event

    assert (home / HEAD_FILE).read_text(encoding="utf-8").splitlines()[2].startswith("checkpoint {")
    saved = (home / HEAD_FILE).read_bytes()
    _consistent_rewrite(app, home)
    (home / HEAD_FILE).write_bytes(saved)  # the forger left the mirror as it was
    assert "the log was rewritten" in run("log", "verify", expect=1).output
    with Session(app.engine) as session:
        assert session.scalar(select(Event.summary).where(Event.seq == 2)) == "nothing happened"


def test_keygen_writes_0600_and_never_overwrites(run, tmp_path: Path) -> None:
    path = tmp_path / "k"
    run("log", "keygen", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    result = run("log", "keygen", path, expect=1)
    assert result.output.startswith("Error: ") and "already exists" in result.output
    assert path.read_bytes() == before
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    assert "already exists" in run("log", "keygen", tmp_path / "link", expect=1).output
    assert not (tmp_path / "elsewhere").exists()


def test_checkpoint_is_never_written_over_a_file(run, signed: Path) -> None:
    before = signed.read_bytes()
    assert "already exists" in run("log", "checkpoint", "-o", signed, expect=1).output
    assert signed.read_bytes() == before


def test_a_checkpoint_signed_by_another_key_is_refused(run, app: App, signed: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evidence.retention.checkpoint import sign

    with app.engine.connect() as connection:
        seq, digest = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
    forged = sign(Ed25519PrivateKey.generate(), seq, digest, datetime.now(UTC), None)
    path = tmp_path / "forged.json"
    path.write_text(forged.to_text(), encoding="utf-8")
    out = run("log", "verify", "--checkpoint", path, expect=1).output
    assert "is signed by another key" in out


def test_an_edited_checkpoint_fails_its_signature(run, signed: Path) -> None:
    data = json.loads(signed.read_text(encoding="utf-8"))
    data["count"] -= 1
    signed.write_text(json.dumps(data), encoding="utf-8")
    assert "the signature does not match" in run("log", "verify", "--checkpoint", signed, expect=1).output


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"{}", b"[" * 5000, b'{"format": "x"}'])
def test_a_file_that_is_not_a_checkpoint_is_one_error_line(run, signed: Path, tmp_path: Path, content) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    out = run("log", "verify", "--checkpoint", path, expect=1).output
    assert out.startswith("Error: ") and "not an evidence audit checkpoint" in out and len(out.splitlines()) == 1


def test_a_write_with_a_foreign_key_is_refused_and_writes_nothing(run, signed: Path, tmp_path: Path, dump) -> None:
    other = tmp_path / "other.key"
    run("log", "keygen", other)
    before = dump()
    out = run("--signing-key", other, *HOLD, "x", expect=1).output
    assert out.startswith("Error: ") and "is not this store's signing key" in out
    assert dump() == before
    assert "is not this store's signing key" in run("--signing-key", other, "log", "checkpoint", expect=1).output


def test_an_unreadable_key_is_one_error_line(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key", encoding="utf-8")
    for args in ([*HOLD, "x"], ["log", "verify"], ["log", "checkpoint"]):
        out = run("--signing-key", bad, *args, expect=1).output
        assert out.startswith("Error: ") and "not an unencrypted PEM private key" in out
    assert "cannot read the signing key" in run("--signing-key", tmp_path / "nope", "log", "verify", expect=1).output


def test_checkpoint_without_a_key_says_so(run) -> None:
    assert "no signing key" in run("log", "checkpoint", expect=1).output


def test_a_broken_chain_is_never_signed(run, app: App, home: Path, signed: Path, tmp_path: Path) -> None:
    _edit(app, home)
    out = run("log", "checkpoint", "-o", tmp_path / "new.json", expect=1).output
    assert "is not signed" in out and not (tmp_path / "new.json").exists()


@sqlite_only
def test_a_restored_older_database_leaves_a_trace(run, app: App, home: Path, signed: Path, tmp_path: Path) -> None:
    """Case 2: a backup restore, then a write: the rollback is recorded in the chain, never covered up."""
    app.close()
    backup, database = tmp_path / "backup.sqlite3", home / "evidence.sqlite3"
    shutil.copyfile(database, backup)  # a quiet store: every commit is checkpointed out of the WAL on close
    run(*HOLD, "after the backup")
    shutil.copyfile(backup, database)
    for suffix in ("-wal", "-shm"):
        (home / f"evidence.sqlite3{suffix}").unlink(missing_ok=True)
    assert "events deleted?" in run("log", "verify", expect=1).output
    assert "refusing to write: the database is older than audit-head" in run(*HOLD, "next write", expect=1).output
    run("verify", "--accept-rollback", expect=None)
    events = json.loads(run("log", "--format", "json").output)
    assert events[-2]["action"] == "audit.rollback" and "restored from an older copy" in events[-2]["summary"]
    assert "audit trail intact" in run("log", "verify", "--checkpoint", signed).output  # the off-site one predates


def test_the_packet_shows_its_checkpoint(run, app: App, signed: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    with app.engine.connect() as connection:
        seq, digest = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
        key_id = connection.execute(text("SELECT value FROM settings WHERE key = 'audit_key_id'")).scalar_one()
    out = tmp_path / "p.pdf"
    run("packet", "--tin", TIN, "--year", 2020, "-o", out, "--no-attachments")
    cover = "".join(PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text().split())
    assert f"event{seq}," in cover and digest in cover and key_id in cover


def test_an_unsigned_packet_says_so(run, tmp_path: Path) -> None:
    from pypdf import PdfReader

    run("import", SAMPLE / "practice.csv")
    out = tmp_path / "p.pdf"
    run("packet", "--tin", TIN, "--year", 2020, "-o", out, "--no-attachments")
    cover = PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text()
    assert "unsigned (no signing key configured)" in " ".join(cover.split())
