"""Alembic owns the schema: migrations and models agree, and the round trip works."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from evidence.db import migrate
from evidence.db.engine import make_engine
from evidence.db.models import Base
from tests.conftest import sqlite_only


def test_upgrade_check_downgrade_round_trip(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'round-trip.sqlite3'}")
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) >= set(Base.metadata.tables)
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert inspect(engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(engine)  # and up again from base
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION
    engine.dispose()


def test_head_revision_constant_matches_alembic_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    assert script.get_heads() == [migrate.HEAD_REVISION]
    engine.dispose()


def test_store_is_created_and_upgraded_on_first_use(run, home: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-home"
    run("--home", fresh, "init")
    result = run("--home", fresh, "db", "current")
    assert f"revision: {migrate.HEAD_REVISION} (newest)" in result.output
    assert "upgrade" not in result.output.split("(newest)")[0]


def test_db_current_on_empty_database_and_upgrade(run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    refused = run("--db", url, "db", "current", expect=1).output  # a read: it creates no database
    assert "other.sqlite3 does not exist: create one with `evidence init`" in refused
    assert not (tmp_path / "other.sqlite3").exists()
    assert "newest" in run("--db", url, "db", "upgrade").output
    assert f"revision: {migrate.HEAD_REVISION} (newest)" in run("--db", url, "db", "current").output


def test_0003_keeps_ids_and_starts_each_sequence_past_every_known_id(tmp_path: Path) -> None:
    """A store at 0002 whose newest evidence was purged: the next id passes the purged ones too."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO practices (id, tin, name, pcmh, apm, created_at) "
                                "VALUES (7, '000123456', 'Clinic', 0, 'none', '2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO blobs (id, hash_algorithm, digest, size, media_type, stored_at) "
                                "VALUES (3, 'sha256', 'ab', 1, 'text/plain', '2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO evidence (id, blob_id, original_name, effective_date, registered_by, "
                                "registered_at) VALUES (5, 3, 'a.txt', '2020-01-01', 'x', '2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO tombstones (kind, record_id, description, purged_at, purged_by) "
                                "VALUES ('evidence', 40, 'purged', '2026-01-01 00:00:00', 'x')"))  # fmt: skip
    migrate.upgrade(engine)
    with engine.begin() as connection:
        sequences = dict(connection.execute(text("SELECT name, seq FROM sqlite_sequence")).all())
        assert sequences["practices"] == 7 and sequences["blobs"] == 3 and sequences["evidence"] == 40
        assert connection.execute(text("SELECT id, original_name FROM evidence")).all() == [(5, "a.txt")]
        connection.execute(text("INSERT INTO evidence (blob_id, original_name, effective_date, registered_by, "
                                "registered_at) VALUES (3, 'b.txt', '2020-01-01', 'x', '2026-01-01 00:00:00')"))  # fmt: skip
        assert connection.execute(text("SELECT MAX(id) FROM evidence")).scalar() == 41
    migrate.downgrade(engine, "0002")  # and back: the rows and ids stay
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM evidence ORDER BY id")).scalars().all() == [5, 41]
    engine.dispose()


def test_0005_adds_effective_until_keeping_rows_ids_and_dates(tmp_path: Path) -> None:
    """A store at 0004 with evidence: after 0005 each row keeps its id and date, until NULL (one day)."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0004")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO blobs (id, hash_algorithm, digest, size, media_type, stored_at) "
                                "VALUES (3, 'sha256', 'ab', 1, 'text/plain', '2026-01-01 00:00:00')"))  # fmt: skip
        for evidence_id, day in ((5, "2019-12-01"), (9, "2020-03-04")):
            connection.execute(text("INSERT INTO evidence (id, blob_id, original_name, effective_date, registered_by, "
                                    "registered_at) VALUES (:id, 3, 'a.txt', :day, 'x', '2026-01-01 00:00:00')"),
                               {"id": evidence_id, "day": day})  # fmt: skip
        connection.execute(text("DELETE FROM evidence WHERE id = 9"))  # as a purge would: 9 stays used
    migrate.upgrade(engine, "0005")
    assert migrate.current_revision(engine) == "0005"
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT id, effective_date, effective_until FROM evidence")).all()
        assert [(r[0], str(r[1]), r[2]) for r in rows] == [(5, "2019-12-01", None)]
        connection.execute(text("UPDATE evidence SET effective_until = '2020-12-31' WHERE id = 5"))
    migrate.downgrade(engine, "0004")  # and back: the row, its id and the sequence stay
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, effective_date FROM evidence")).all()[0][0] == 5
        assert "effective_until" not in {c["name"] for c in inspect(connection).get_columns("evidence")}
        connection.execute(text("INSERT INTO evidence (blob_id, original_name, effective_date, registered_by, "
                                "registered_at) VALUES (3, 'b.txt', '2020-01-01', 'x', '2026-01-01 00:00:00')"))  # fmt: skip
        assert connection.execute(text("SELECT MAX(id) FROM evidence")).scalar() == 10
    engine.dispose()


def test_0006_moves_practice_flags_into_the_years_the_practice_has_records_for(tmp_path: Path) -> None:
    """A store at 0005: each practice's PCMH and APM become rows of its years, nothing else changes."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0005")
    with engine.begin() as connection:
        for pk, tin, pcmh, apm in (
            (7, "000123456", 1, "other"),
            (8, "000654321", 0, "app"),
            (9, "000111222", 0, "none"),
        ):
            connection.execute(text("INSERT INTO practices (id, tin, name, pcmh, apm, created_at) VALUES "
                                    "(:id, :tin, 'Clinic', :pcmh, :apm, '2026-01-01 00:00:00')"),
                               {"id": pk, "tin": tin, "pcmh": pcmh, "apm": apm})  # fmt: skip
        connection.execute(text("INSERT INTO clinicians (id, npi, name, created_at) "
                                "VALUES (1, '1234567893', 'Dr', '2026-01-01 00:00:00')"))  # fmt: skip
        for practice, year in ((7, 2019), (7, 2020), (8, 2022), (9, 2020)):
            connection.execute(text("INSERT INTO memberships (practice_id, clinician_id, performance_year, rural, hpsa, "
                                    "created_at) VALUES (:p, 1, :y, 0, 0, '2026-01-01 00:00:00')"),
                               {"p": practice, "y": year})  # fmt: skip
        activity = connection.execute(text("SELECT MIN(id) FROM activities")).scalar()
        if activity is None:  # a bare migrated database has no catalog: one row stands in
            connection.execute(text("INSERT INTO catalog_years (performance_year, weighted, source, source_name, "
                                    "source_sha256, loaded_at) VALUES (2021, 1, 'shipped', 'x', 'x', '2026-01-01')"))  # fmt: skip
            connection.execute(text("INSERT INTO activities (id, performance_year, activity_id, title, weight) "
                                    "VALUES (1, 2021, 'IA_PM_2', 't', 'high')"))  # fmt: skip
            activity = 1
        connection.execute(text("INSERT INTO attestations (practice_id, performance_year, activity_pk, start_date, "
                                "end_date, created_at, created_by) VALUES (7, 2021, :a, '2021-01-01', '2021-12-31', "
                                "'2026-01-01 00:00:00', 'x')"), {"a": activity})  # fmt: skip
    migrate.upgrade(engine, "0006")
    assert migrate.current_revision(engine) == "0006"
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT practice_id, clinician_id, performance_year, program, mvp_id, pcmh, "
                                       "apm FROM reporting_years ORDER BY practice_id, performance_year")).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [
            (7, None, 2019, "mips", None, 1, "other"),
            (7, None, 2020, "mips", None, 1, "other"),
            (7, None, 2021, "mips", None, 1, "other"),  # a year with an attestation only
            (8, None, 2022, "app", None, 0, "app"),  # an APP reporter reports through the APP
        ]  # practice 9 had nothing to carry
        assert "pcmh" not in {c["name"] for c in inspect(connection).get_columns("practices")}
        assert connection.execute(text("SELECT id, tin FROM practices ORDER BY id")).all()[0] == (7, "000123456")
        assert dict(connection.execute(text("SELECT name, seq FROM sqlite_sequence")).all())["practices"] == 9
    migrate.downgrade(engine, "0005")  # and back: the flags as they were, the ids kept
    with engine.connect() as connection:
        back = connection.execute(text("SELECT id, pcmh, apm FROM practices ORDER BY id")).all()
        assert [tuple(r) for r in back] == [(7, 1, "other"), (8, 0, "app"), (9, 0, "none")]
    engine.dispose()


@sqlite_only
def test_a_database_from_a_newer_evidence_is_one_line_and_left_as_it_was(run, home: Path) -> None:
    database = home / "evidence.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    before = database.read_bytes()
    for command in (["missing"], ["log", "verify"]):
        message = run(*command, expect=1).output.strip()
        assert message.count("\n") == 0, message
        assert "schema revision 0099" in message and "newer evidence" in message
    assert database.read_bytes() == before
