"""web: the study's web page (address, on/off, public) and members' hidden links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_web_page_study_id_study"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_page")),
        sa.UniqueConstraint("study_id", name=op.f("uq_web_page_study_id")),
        sa.UniqueConstraint("token", name=op.f("uq_web_page_token")),
    )
    op.create_table(
        "web_hidden_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_web_hidden_links_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_web_hidden_links_study_id_study"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_hidden_links")),
        sa.UniqueConstraint("member_id", name=op.f("uq_web_hidden_links_member_id")),
    )
    with op.batch_alter_table("web_hidden_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_hidden_links_study_id"), ["study_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_hidden_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_hidden_links_study_id"))
    op.drop_table("web_hidden_links")
    op.drop_table("web_page")
