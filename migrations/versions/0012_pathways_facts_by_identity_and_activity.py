"""pathways: progress facts are looked up by identity and activity together

Deriving a learner's progress reads their facts about the steps of their pathways. With an
index on the identity alone, PostgreSQL fetched every fact of each learner and then kept those
about the steps: with 1,000,000 facts (about 100 a learner) that read took 4.6 ms a batch of 100
statements, the largest part of the projection's work there, and it grows with each learner's
history. The index on (identity, activity) finds only the facts about the steps (1.5 ms); it
also serves every look-up by identity alone, so it replaces that index rather than adding one
more B-tree insertion a fact.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_progress_facts_identity_activity", "progress_facts",
                    ["identity_value", "activity_iri"], unique=False)
    op.drop_index(op.f("ix_progress_facts_identity_value"), table_name="progress_facts")


def downgrade() -> None:
    op.create_index(op.f("ix_progress_facts_identity_value"), "progress_facts", ["identity_value"],
                    unique=False)
    op.drop_index("ix_progress_facts_identity_activity", table_name="progress_facts")
