"""users and tokens: who may sign in, with which role, for which practices (evidence.access)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 19:10:00.000000

Four new tables; nothing existing changes, so an upgraded store keeps every row and id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROLES = "'admin', 'officer', 'viewer'"  # evidence.db.models.Role, as it was at this revision


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_users_role")),
        sa.CheckConstraint("(disabled_at IS NULL) = (disabled_by IS NULL)", name=op.f("ck_users_disabled_by")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name_key", name=op.f("uq_users_name_key")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "user_practices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_practices_user_id_users")),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_user_practices_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_practices")),
        sa.UniqueConstraint("user_id", "practice_id", name=op.f("uq_user_practices_user_id_practice_id")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_api_tokens_role")),
        sa.CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name=op.f("ck_api_tokens_revoked_by")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "token_practices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["api_tokens.id"], name=op.f("fk_token_practices_token_id_api_tokens")),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_token_practices_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_practices")),
        sa.UniqueConstraint("token_id", "practice_id", name=op.f("uq_token_practices_token_id_practice_id")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("token_practices")
    op.drop_table("api_tokens")
    op.drop_table("user_practices")
    op.drop_table("users")
