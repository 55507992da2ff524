"""The data map: per system and scan, what the live schema and a bounded sample showed (no values).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_maps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("system", sa.String(80), nullable=False, index=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("sample_size", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("collections", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("data_maps")
