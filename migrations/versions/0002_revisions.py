"""revisions: study.revision and public_id, session_change.revision and updated_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    study = sa.table("study", sa.column("id", sa.Integer()), sa.column("public_id", sa.String()))
    connection = op.get_bind()
    for (study_id,) in connection.execute(sa.select(study.c.id)).all():
        connection.execute(study.update().where(study.c.id == study_id).values(public_id=secrets.token_hex(8)))
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_study_public_id"), ["public_id"])

    with op.batch_alter_table("session_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_change", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("revision")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_study_public_id"), type_="unique")
        batch_op.drop_column("public_id")
        batch_op.drop_column("revision")
