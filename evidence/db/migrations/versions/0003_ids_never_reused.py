"""ids never reused: AUTOINCREMENT on SQLite for every table whose ids users see or events name

Without AUTOINCREMENT, SQLite hands out max(id) + 1, so after a purge deleted the newest
rows a new file got the id of a purged one (`show 10` answered with the new file, and the
audit trail named two different "evidence 10"). Each table is rebuilt in batch mode with
its rows and ids as they are, and its sqlite_sequence entry starts at the largest id it
ever handed out that is still known: the largest row id, or the largest id a tombstone
remembers. (An id purged before tombstones existed cannot be known; there were none.)

PostgreSQL's identity sequences never go back: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# table -> the tombstone kind that remembers its purged ids (None: never purged)
TABLES: dict[str, str | None] = {
    "practices": None,
    "clinicians": None,
    "memberships": "membership",
    "attestations": "attestation",
    "participations": "participation",
    "blobs": None,  # purged files' tombstones name their SHA-256, not this id
    "evidence": "evidence",
    "evidence_links": "evidence_link",
    "legal_holds": None,
    "tombstones": None,
    "events": None,
}


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(True)
    for table, kind in TABLES.items():
        largest = bind.execute(sa.text(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')).scalar_one()
        if kind is not None:
            remembered = bind.execute(
                sa.text("SELECT COALESCE(MAX(record_id), 0) FROM tombstones WHERE kind = :kind"), {"kind": kind}
            ).scalar_one()
            largest = max(largest, remembered)
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :table"), {"table": table})
        if largest:
            bind.execute(
                sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"),
                {"table": table, "seq": largest},
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(False)
