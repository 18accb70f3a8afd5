"""pathways: progress facts only for the statements a pathway can read

From this revision the projection records a fact only for a statement about an activity that a
step (of any version, drafts included) is about, or in a registration that a step launched
(``pathways.relevance``): no derivation, report or page reads a fact of any other statement, and
in the benchmark's world 97 statements in 100 had one. This deletes the facts an older version
recorded for the others, so that a database's facts are what ``cairn progress rebuild`` gives
(and the dashboard's weekly participation counts old weeks as it counts new ones). The voids
(``progress_voids``) stay: every voiding statement keeps one.

Downgrade: the facts deleted are derived data and are not put back here; after downgrading, run
``cairn progress rebuild`` with the older version, which records a fact for every statement
about an activity again.

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM progress_facts "
               "WHERE activity_iri NOT IN (SELECT activity_iri FROM pathway_steps) "
               "AND (registration IS NULL OR registration NOT IN "
               "(SELECT registration FROM pathway_step_launches))")


def downgrade() -> None:
    """Nothing to undo in the schema (see the module's docstring for the facts)."""
