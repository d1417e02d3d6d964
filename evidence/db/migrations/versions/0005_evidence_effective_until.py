"""evidence effective until: a document in force from its effective date until this day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild): every row, id and the AUTOINCREMENT sequence stay as
    # they are; existing evidence keeps NULL, a single effective date.
    op.add_column("evidence", sa.Column("effective_until", sa.Date(), nullable=True))


def downgrade() -> None:
    # SQLite rebuilds the table to drop a column: its id sequence is carried over, so an id a
    # purge took is still never handed out again (migration 0003).
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    seq_sql = sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'evidence'")
    seq = bind.execute(seq_sql).scalar() if sqlite else None
    with op.batch_alter_table("evidence", schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column("effective_until")
    if seq is not None:
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'evidence'"))
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('evidence', :seq)"), {"seq": seq})
