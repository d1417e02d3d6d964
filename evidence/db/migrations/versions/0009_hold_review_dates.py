"""legal holds: an optional review date

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 19:00:00.000000

One nullable column; every hold keeps its id, scope and reason, and has no review date until
`evidence hold review` sets one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("legal_holds") as batch:
        batch.add_column(sa.Column("review_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("legal_holds") as batch:
        batch.drop_column("review_on")
