"""practice: attendance, study logs, roster claims; check-in/nudge/recap settings, the guide, nudge opt-in

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("original_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_attendance_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_attendance_study_id_study"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "study_id", "member_id", "original_date", name=op.f("uq_attendance_study_id_member_id_original_date")
        ),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_study_id"), ["study_id"], unique=False)

    op.create_table(
        "study_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("original_date", sa.Date(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_study_log_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_study_log_study_id_study"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_log")),
        sa.UniqueConstraint(
            "study_id",
            "member_id",
            "original_date",
            "url",
            name=op.f("uq_study_log_study_id_member_id_original_date_url"),
        ),
    )
    with op.batch_alter_table("study_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_log_study_id"), ["study_id"], unique=False)

    op.create_table(
        "roster_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("discord_user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_roster_claim_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_roster_claim_study_id_study"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_claim")),
        sa.UniqueConstraint("study_id", "discord_user_id", name=op.f("uq_roster_claim_study_id_discord_user_id")),
        sa.UniqueConstraint("study_id", "member_id", name=op.f("uq_roster_claim_study_id_member_id")),
    )

    # Constant server defaults ("0", "10", …) keep these plain ALTER TABLE ADD COLUMNs on SQLite; an
    # expression default would make batch mode rebuild the table, and rebuilding `study` with foreign keys on
    # cascade-deletes its rows' children.
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nudge_opt_in", sa.Boolean(), server_default="0", nullable=False))

    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkin_opens_minutes", sa.Integer(), server_default="10", nullable=False))
        batch_op.add_column(sa.Column("checkin_grace_minutes", sa.Integer(), server_default="10", nullable=False))
        batch_op.add_column(sa.Column("nudge_offset_minutes", sa.Integer(), server_default="1440", nullable=False))
        batch_op.add_column(sa.Column("recap_enabled", sa.Boolean(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("checkin_post_enabled", sa.Boolean(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("guide", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ has it), not batch mode: batch mode rebuilds the table on SQLite, and
    # dropping the old `study` table with foreign keys on would cascade-delete every member, week and record.
    for column in (
        "guide",
        "checkin_post_enabled",
        "recap_enabled",
        "nudge_offset_minutes",
        "checkin_grace_minutes",
        "checkin_opens_minutes",
    ):
        op.drop_column("study", column)
    op.drop_column("member", "nudge_opt_in")

    op.drop_table("roster_claim")
    with op.batch_alter_table("study_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_log_study_id"))
    op.drop_table("study_log")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_study_id"))
    op.drop_table("attendance")
