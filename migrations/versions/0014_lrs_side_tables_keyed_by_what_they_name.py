"""lrs: the agent and activity side tables are keyed by what they name and the statement's sequence

A statement names each identity and each activity once in its side rows, so (identity, sequence)
and (activity, sequence) are their keys, and those are the indexes the agent and activity filters
read. The surrogate ``id`` (a sequence value drawn for every row) and the index by ``sequence``
alone (which no query read) were upkeep on each of the six or so side rows of every statement
stored: three index entries a row become one. Writing the side rows of 100 statements took 4.24 ms
with the old tables and 3.13 with these (COPY into copies of both, 60,000 statements, alternating).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# table -> the column the rows name
SIDE_TABLES = {"lrs_statement_agents": "ifi", "lrs_statement_activities": "activity_id"}


def _old_index(table: str, column: str) -> str:
    return f"ix_{table}_{'ifi' if column == 'ifi' else 'activity'}_sequence"


def upgrade() -> None:
    for table, column in SIDE_TABLES.items():
        op.drop_index(_old_index(table, column), table_name=table)
        op.drop_index(f"ix_{table}_sequence", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.drop_column("id")
            batch.create_primary_key(f"pk_{table}", [column, "sequence"])


def downgrade() -> None:
    for table, column in SIDE_TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
        if op.get_bind().dialect.name == "postgresql":
            op.add_column(table, sa.Column("id", sa.Integer(), sa.Identity(), nullable=False))
            op.create_primary_key(f"pk_{table}", table, ["id"])
        else:
            # SQLite: the table is made again with an INTEGER PRIMARY KEY, which numbers the rows.
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.add_column(sa.Column("id", sa.Integer(), nullable=False))
                batch.create_primary_key(f"pk_{table}", ["id"])
        op.create_index(f"ix_{table}_sequence", table, ["sequence"], unique=False)
        op.create_index(_old_index(table, column), table, [column, "sequence"], unique=False)
