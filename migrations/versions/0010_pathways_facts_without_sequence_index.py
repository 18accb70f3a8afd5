"""pathways: progress facts lose their sequence index, which no query used

The projection writes one fact per statement about an activity, in every batch's transaction;
each index of ``progress_facts`` is one more B-tree insertion a fact. Facts are looked up by
statement id, identity, activity and registration; none by sequence (a learner's facts are put
in order in Python, the attendance list sorts the few facts of one activity). The COPY of a
batch's facts took 1.72 ms of server time per 100 statements with it (PostgreSQL's log).

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_progress_facts_sequence"), table_name="progress_facts")


def downgrade() -> None:
    op.create_index(op.f("ix_progress_facts_sequence"), "progress_facts", ["sequence"], unique=False)
