"""The receipt ledger: append-only entries (Merkle leaves) and signed checkpoints.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
APPEND_ONLY = ("ledger_entries", "ledger_checkpoints")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("receipt_id", sa.String(40), nullable=False, unique=True),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("appended_at", TZ, nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("size", sa.Integer, nullable=False, index=True),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.LargeBinary, nullable=False),
        sa.Column("signed_at", TZ, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:  # the database itself refuses to rewrite history
        if dialect == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        elif dialect == "postgresql":
            op.execute("CREATE OR REPLACE FUNCTION dsr_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql")
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION dsr_append_only()")


def downgrade() -> None:
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
