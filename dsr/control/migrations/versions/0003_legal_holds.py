"""Legal holds: what must be kept, on whose order, until when.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("subject_macs", sa.JSON, nullable=True),
        sa.Column("system", sa.String(80), nullable=True),
        sa.Column("collection", sa.String(120), nullable=True),
        sa.Column("until", sa.Date, nullable=True),
        sa.Column("placed_by", sa.String(80), nullable=False),
        sa.Column("placed_at", TZ, nullable=False),
        sa.Column("released_by", sa.String(80), nullable=True),
        sa.Column("released_at", TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("legal_holds")
