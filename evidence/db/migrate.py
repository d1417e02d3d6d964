"""Create and upgrade the schema with Alembic, from code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from evidence.support.resources import migrations_dir

if TYPE_CHECKING:  # Alembic is imported only when the schema needs work
    from alembic.config import Config

# The newest migration. A test checks it equals Alembic's head, so start-up can compare the
# store's revision with this constant without loading Alembic's script directory.
HEAD_REVISION = "0010"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def _run(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.driver_connection if sqlite else None
        if sqlite and raw is None:  # only an invalidated connection has none; a fresh one never is
            raise RuntimeError("the SQLite connection was closed before the migration")
        if raw is not None:
            # Batch mode rebuilds tables; with foreign keys on, that could cascade deletes.
            # The pragma only takes effect outside a transaction, hence the raw connection.
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            # A writer's transaction (BEGIN IMMEDIATE on SQLite): processes opening a fresh store
            # at once queue here, and each later one finds the schema already at head.
            connection.execution_options(evidence_write=True)
            with connection.begin():
                config.attributes["connection"] = connection
                getattr(command, direction)(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = ON")


def stamp_matches(engine: Engine, setting: str, expected: str) -> bool:
    """True when the schema is at HEAD_REVISION and the settings row `setting` holds `expected`.

    The start-up stamp (evidence.app): one read query, no Alembic, no write lock. Anything else (an
    older or unknown revision, a changed value, no such table yet, an unreadable database) is
    False, and the caller takes the full path (ensure_schema, then its own sync), which knows
    what to do or what to say.
    """
    from sqlalchemy.exc import SQLAlchemyError

    query = text("SELECT (SELECT version_num FROM alembic_version), (SELECT value FROM settings WHERE key = :setting)")
    try:
        with engine.connect() as connection:
            row = connection.execute(query, {"setting": setting}).one()
    except SQLAlchemyError:
        return False
    return tuple(row) == (HEAD_REVISION, expected)


def ensure_schema(engine: Engine) -> bool:
    """Upgrade to head if needed; True when something was migrated.

    A revision this version does not know (the database was upgraded by a newer evidence, or a
    backup of one was restored) is one StoreError, and nothing is changed.
    """
    current = current_revision(engine)
    if current == HEAD_REVISION:
        return False  # before Alembic is imported: it costs a quarter of a second
    from alembic.util import CommandError

    from evidence.errors import StoreError

    try:
        upgrade(engine)
    except CommandError as exc:
        if current is None or _known_revision(engine, current):
            raise
        raise StoreError(
            f"the database is at schema revision {current}, which this version of evidence (schema "
            f"{HEAD_REVISION}) does not know: it was upgraded by a newer evidence; use that version "
            "(nothing was changed)"
        ) from exc
    return True


def _known_revision(engine: Engine, revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        ScriptDirectory.from_config(alembic_config(engine)).get_revision(revision)
    except CommandError:
        return False
    return True
