"""lrs: the actor, activity and registration indexes carry the statement id (PostgreSQL)

GET /statements looks up the statements that target a selective filter's matches by the matches'
ids. With ``statement_id`` included in the filter's index, those ids are read from the index alone
instead of from one heap page per match (up to a thousand pages a request at 1,000,000 statements).
SQLite has no INCLUDE: there this migration changes nothing.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_lrs_statements_actor_sequence": ["actor_ifi", "sequence"],
    "ix_lrs_statements_activity_sequence": ["object_activity_id", "sequence"],
    "ix_lrs_statements_registration_sequence": ["registration", "sequence"],
}


def _recreate(include: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="lrs_statements")
        op.create_index(name, "lrs_statements", columns, unique=False, postgresql_include=include)


def upgrade() -> None:
    _recreate(["statement_id"])


def downgrade() -> None:
    _recreate([])
