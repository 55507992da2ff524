"""Which process holds a request's run, and when it last showed signs of life.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("run_host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("run_pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("run_process_start", sa.String(40), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for column in ("heartbeat_at", "run_process_start", "run_pid", "run_host"):
            batch.drop_column(column)
