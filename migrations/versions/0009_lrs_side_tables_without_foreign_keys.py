"""lrs: the agent and activity side tables no longer check their statement by foreign key

Every statement writes about eight side rows (the agents and activities it mentions), in the same
SQL statement as the statement row itself, and no statement is ever deleted. The foreign keys
checked each side row against ``lrs_statements`` one by one (a trigger per row on PostgreSQL):
about 45% of the insert's server time for a batch of 100, all of it under the sequence lock that
serialises every writer. Their ``ON DELETE CASCADE`` had nothing to do. The ``sequence`` indexes
stay (joins by statement).

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SIDE_TABLES = ("lrs_statement_agents", "lrs_statement_activities")


def _name(table: str) -> str:
    return f"fk_{table}_sequence_lrs_statements"


def upgrade() -> None:
    for table in SIDE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_name(table), type_="foreignkey")


def downgrade() -> None:
    for table in SIDE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(_name(table), "lrs_statements", ["sequence"], ["sequence"],
                                     ondelete="CASCADE")
