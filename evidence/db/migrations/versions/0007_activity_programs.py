"""activity programs: the programs and registration types CMS allows per activity-year

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 16:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: every activity row and id stays (attestations point at them). Existing rows
    # keep NULL, "CMS published no list", until the shipped catalog is synced again (its fingerprint
    # changed with this release, so the next start-up fills the shipped years) or a year is re-imported.
    op.add_column("activities", sa.Column("allowed_programs", sa.Text(), nullable=True))
    op.add_column("activities", sa.Column("allowed_registration_types", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("allowed_registration_types")
        batch_op.drop_column("allowed_programs")
