"""audit requests: CMS's data-validation and audit requests, their scope and their journal

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:00:00.000000

Three new tables; nothing existing changes, so an upgraded store keeps every row and id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("performance_year", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.CheckConstraint("due_on >= received_on", name=op.f("ck_audit_requests_due_order")),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('passed', 'failed', 'withdrawn')", name=op.f("ck_audit_requests_outcome")
        ),
        sa.CheckConstraint("(closed_at IS NULL) = (outcome IS NULL)", name=op.f("ck_audit_requests_closed_outcome")),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_audit_requests_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_requests")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_audit_requests_practice_year", "audit_requests", ["practice_id", "performance_year"], unique=False
    )
    op.create_table(
        "audit_scope",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.String(length=40), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audit_requests.id"], name=op.f("fk_audit_scope_audit_id_audit_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_scope")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_scope_audit", "audit_scope", ["audit_id"], unique=False)
    op.create_table(
        "audit_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noted_by", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_before", sa.Date(), nullable=True),
        sa.Column("due_after", sa.Date(), nullable=True),
        sa.CheckConstraint("(due_before IS NULL) = (due_after IS NULL)", name=op.f("ck_audit_notes_due_move")),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audit_requests.id"], name=op.f("fk_audit_notes_audit_id_audit_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_notes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_notes_audit", "audit_notes", ["audit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_notes_audit", table_name="audit_notes")
    op.drop_table("audit_notes")
    op.drop_index("ix_audit_scope_audit", table_name="audit_scope")
    op.drop_table("audit_scope")
    op.drop_index("ix_audit_requests_practice_year", table_name="audit_requests")
    op.drop_table("audit_requests")
