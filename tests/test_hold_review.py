"""Legal holds' review dates: set at `hold add --review-by`, moved by `hold review` (audited), kept by 0009."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from evidence.db import migrate
from evidence.db.engine import make_engine
from tests.conftest import sqlite_only

TIN = "000123456"


def _practice(run) -> None:
    run("practice", "add", TIN, "--name", "Riverbend")


def test_add_with_a_review_date_and_move_it_with_a_reason(run) -> None:
    _practice(run)
    run("hold", "add", "--tin", TIN, "--year", "2020", "--reason", "DVA letter", "--review-by", "2099-01-31")
    held = json.loads(run("hold", "list", "--format", "json").output)
    assert held[0]["review_on"] == "2099-01-31"
    moved = run("hold", "review", "1", "--on", "2099-03-01", "--reason", "audit phase 2").output
    assert moved.strip() == "legal hold 1: review date 2099-01-31 -> 2099-03-01"
    events = json.loads(run("log", "--format", "json").output)
    (review,) = [e for e in events if e["action"] == "hold.review"]
    assert "review date 2099-01-31 -> 2099-03-01: audit phase 2" in review["summary"]
    assert "audit trail intact: 4 events" in run("log", "verify").output


def test_bad_review_requests_are_one_line_and_change_nothing(run, dump) -> None:
    _practice(run)
    run("hold", "add", "--tin", TIN, "--reason", "litigation", "--review-by", "2099-05-01")
    run("hold", "add", "--tin", TIN, "--reason", "old audit")
    run("hold", "release", "2", "--reason", "closed")
    before = dump()
    for args, message in [
        (["hold", "review", "9", "--on", "2099-01-01", "--reason", "r"], "no legal hold with id 9"),
        (["hold", "review", "2", "--on", "2099-01-01", "--reason", "r"], "was released on"),
        (["hold", "review", "1", "--on", "2001-01-01", "--reason", "r"], "is in the past"),
        (["hold", "review", "1", "--on", "2099-01-01", "--reason", "  "], "needs a --reason"),
        (["hold", "review", "1", "--on", "garbage", "--reason", "r"], "--on"),
        (["hold", "review", "1", "--on", "2099-05-01", "--reason", "r"], "already to be reviewed on 2099-05-01"),
        (["hold", "add", "--tin", "000000001", "--reason", "x"], "no practice with TIN 000000001"),
        (["hold", "add", "--tin", TIN, "--reason", "x", "--review-by", "2001-01-01"], "is in the past"),
    ]:
        result = run(*args, expect=None)
        assert result.exit_code != 0 and message in result.output, result.output
        assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert dump() == before


@sqlite_only
def test_0009_keeps_every_hold_with_no_review_date(tmp_path: Path) -> None:
    """A store at 0008 with a hold: after 0009 the hold keeps its id, scope and reason; review_on is NULL."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0008")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO practices (id, tin, name, created_at) "
                                "VALUES (4, '000123456', 'Clinic', '2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO legal_holds (id, practice_id, performance_year, reason, created_at, "
                                "created_by) VALUES (7, 4, 2020, 'DVA; letter', '2026-01-02 00:00:00', 'x')"))  # fmt: skip
    migrate.upgrade(engine, "0009")
    assert migrate.current_revision(engine) == "0009"
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT id, practice_id, performance_year, reason, review_on FROM legal_holds"))
        assert rows.all() == [(7, 4, 2020, "DVA; letter", None)]
        connection.execute(text("UPDATE legal_holds SET review_on = '2027-01-01' WHERE id = 7"))
    migrate.downgrade(engine, "0008")  # and back: the hold stays
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, reason FROM legal_holds")).all() == [(7, "DVA; letter")]
    engine.dispose()
