"""lrs: StatementRef and since/until filters without scanning every statement

``targets_reference`` marks a statement whose StatementRef target is itself a StatementRef statement
(a chain); two partial indexes list the StatementRef statements and the chained ones by sequence.
The ``stored`` index gains the sequence, so a since/until bound is found as a sequence bound.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lrs_statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('targets_reference', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.execute(
        "UPDATE lrs_statements SET targets_reference = true WHERE object_statement_id IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM lrs_statements AS target WHERE target.statement_id = "
        "lrs_statements.object_statement_id "
        "AND target.object_statement_id IS NOT NULL)")
    with op.batch_alter_table('lrs_statements', schema=None) as batch_op:
        batch_op.drop_index('ix_lrs_statements_stored')
        batch_op.create_index('ix_lrs_statements_stored_sequence', ['stored', 'sequence'], unique=False)
        batch_op.create_index('ix_lrs_statements_reference_sequence', ['sequence'], unique=False,
                              postgresql_where=sa.text('object_statement_id IS NOT NULL'),
                              sqlite_where=sa.text('object_statement_id IS NOT NULL'))
        batch_op.create_index('ix_lrs_statements_chain_sequence', ['sequence'], unique=False,
                              postgresql_where=sa.text('targets_reference'),
                              sqlite_where=sa.text('targets_reference'))


def downgrade() -> None:
    with op.batch_alter_table('lrs_statements', schema=None) as batch_op:
        batch_op.drop_index('ix_lrs_statements_chain_sequence')
        batch_op.drop_index('ix_lrs_statements_reference_sequence')
        batch_op.drop_index('ix_lrs_statements_stored_sequence')
        batch_op.create_index('ix_lrs_statements_stored', ['stored'], unique=False)
        batch_op.drop_column('targets_reference')
