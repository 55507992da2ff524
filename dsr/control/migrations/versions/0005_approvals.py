"""Four-eyes approval: every decision on a plan (append-only), and the run that waits for it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("flow_run_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("approval_due_at", TZ, nullable=True))
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("plan_digest", sa.String(80), nullable=False),
        sa.Column("via", sa.String(40), nullable=False),
        sa.Column("prompt", sa.String(80), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":  # decisions are history: the database refuses to rewrite them
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER approvals_no_{verb.lower()} BEFORE {verb} ON approvals BEGIN SELECT RAISE(ABORT, 'approvals is append-only'); END")
    elif dialect == "postgresql":  # dsr_append_only() comes from migration 0002
        op.execute("CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE ON approvals FOR EACH ROW EXECUTE FUNCTION dsr_append_only()")
    elif dialect in ("mysql", "mariadb"):  # 0002 knew no MySQL/MariaDB: their ledger tables get the same guard here
        for table in ("ledger_entries", "ledger_checkpoints", "approvals"):
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} FOR EACH ROW "
                           f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{table} is append-only'")
    else:
        raise NotImplementedError(f"the control database on {dialect} would not refuse to rewrite the ledger; use PostgreSQL, MariaDB/MySQL or SQLite")


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        for table in ("ledger_entries", "ledger_checkpoints"):
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_table("approvals")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("approval_due_at")
        batch.drop_column("flow_run_id")
