"""Requests, status history and actions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("subject", sa.JSON, nullable=True),
        sa.Column("subject_commitments", sa.JSON, nullable=False),
        sa.Column("subject_salt", sa.String(64), nullable=False),
        sa.Column("corrections", sa.JSON, nullable=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("department", sa.String(80), nullable=False),
        sa.Column("verification_method", sa.String(80), nullable=True),
        sa.Column("verified_by", sa.String(80), nullable=True),
        sa.Column("verified_at", TZ, nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("policy_id", sa.String(80), nullable=False),
        sa.Column("policy_digest", sa.String(80), nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("export_path", sa.Text, nullable=True),
        sa.Column("plan", sa.JSON, nullable=True),
    )
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("system", sa.String(80), nullable=False),
        sa.Column("collection", sa.String(120), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("planned_count", sa.Integer, nullable=False),
        sa.Column("affected_count", sa.Integer, nullable=True),
        sa.Column("target_digest", sa.String(80), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.UniqueConstraint("request_id", "step", name="uq_actions_request_step"),
    )


def downgrade() -> None:
    for table in ("actions", "request_events", "requests"):
        op.drop_table(table)
