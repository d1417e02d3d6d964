"""reporting years: program, medical home and APM participation per TIN (or NPI) and year

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:30:00.000000

`practices.pcmh` and `practices.apm` applied to every year. They become one `reporting_years`
row per year the practice has records for (an attestation or a clinician billing under it), with
the same values; an APP reporter's rows say program `app`. Values CMS does not allow in a year
(APP before PY2021, the APM scoring standard after PY2020) are carried as they were: the score
says they earn nothing and `practice set` corrects them. A practice with no records in any year
has no year to carry them to; the downgrade's opposite direction is lossy in the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporting_years",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=True),
        sa.Column("performance_year", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=8), nullable=False),
        sa.Column("mvp_id", sa.String(length=8), nullable=True),
        sa.Column("pcmh", sa.Boolean(), nullable=False),
        sa.Column("pcmh_sites", sa.Integer(), nullable=True),
        sa.Column("recognized_sites", sa.Integer(), nullable=True),
        sa.Column("apm", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("program IN ('mips', 'mvp', 'app')", name=op.f("ck_reporting_years_program")),
        sa.CheckConstraint("(program = 'mvp') = (mvp_id IS NOT NULL)", name=op.f("ck_reporting_years_mvp_id")),
        sa.CheckConstraint("apm IN ('none', 'mips', 'other', 'app')", name=op.f("ck_reporting_years_apm")),
        sa.CheckConstraint(
            "(pcmh_sites IS NULL AND recognized_sites IS NULL) OR "
            "(pcmh_sites >= 1 AND recognized_sites >= 0 AND recognized_sites <= pcmh_sites)",
            name=op.f("ck_reporting_years_pcmh_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["clinicians.id"], name=op.f("fk_reporting_years_clinician_id_clinicians")
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_reporting_years_practice_id_practices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_years")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("reporting_years", schema=None) as batch_op:
        batch_op.create_index(
            "uq_reporting_years_group",
            ["practice_id", "performance_year"],
            unique=True,
            sqlite_where=sa.text("clinician_id IS NULL"),
            postgresql_where=sa.text("clinician_id IS NULL"),
        )
        batch_op.create_index(
            "uq_reporting_years_individual",
            ["practice_id", "clinician_id", "performance_year"],
            unique=True,
            sqlite_where=sa.text("clinician_id IS NOT NULL"),
            postgresql_where=sa.text("clinician_id IS NOT NULL"),
        )
    bind = op.get_bind()
    # The years each practice has records for, and its flags, copied into one row per year.
    bind.execute(
        sa.text(
            "INSERT INTO reporting_years (practice_id, clinician_id, performance_year, program, mvp_id, pcmh, "
            "pcmh_sites, recognized_sites, apm, created_at) "
            "SELECT p.id, NULL, y.performance_year, CASE WHEN p.apm = 'app' THEN 'app' ELSE 'mips' END, NULL, "
            "p.pcmh, NULL, NULL, p.apm, p.created_at FROM practices p JOIN ("
            "SELECT practice_id, performance_year FROM attestations UNION "
            "SELECT practice_id, performance_year FROM memberships) y ON y.practice_id = p.id "
            "WHERE p.pcmh OR p.apm <> 'none' ORDER BY p.id, y.performance_year"
        )
    )
    _rebuild_practices(drop=True)


def downgrade() -> None:
    _rebuild_practices(drop=False)
    bind = op.get_bind()
    # Recognised in any year becomes recognised; the APM of the newest year with one stays.
    bind.execute(
        sa.text(
            "UPDATE practices SET pcmh = EXISTS (SELECT 1 FROM reporting_years r WHERE r.practice_id = practices.id "
            "AND r.clinician_id IS NULL AND r.pcmh), apm = COALESCE((SELECT r.apm FROM reporting_years r "
            "WHERE r.practice_id = practices.id AND r.clinician_id IS NULL AND r.apm <> 'none' "
            "ORDER BY r.performance_year DESC LIMIT 1), 'none')"
        )
    )
    with op.batch_alter_table("reporting_years", schema=None) as batch_op:
        batch_op.drop_index("uq_reporting_years_individual")
        batch_op.drop_index("uq_reporting_years_group")
    op.drop_table("reporting_years")


def _rebuild_practices(*, drop: bool) -> None:
    """Drop (or add back) the two columns; SQLite rebuilds the table, its id sequence carried over."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    seq_sql = sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'practices'")
    seq = bind.execute(seq_sql).scalar() if sqlite else None
    with op.batch_alter_table("practices", schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        if drop:
            batch_op.drop_constraint(op.f("ck_practices_apm"), type_="check")
            batch_op.drop_column("apm")
            batch_op.drop_column("pcmh")
        else:
            batch_op.add_column(sa.Column("pcmh", sa.Boolean(), nullable=False, server_default=sa.false()))
            batch_op.add_column(sa.Column("apm", sa.String(length=8), nullable=False, server_default="none"))
            batch_op.create_check_constraint(op.f("ck_practices_apm"), "apm IN ('none', 'mips', 'other', 'app')")
    if seq is not None:
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'practices'"))
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('practices', :seq)"), {"seq": seq})
