"""lrs: statements, credentials and their side tables

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import cairn.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lrs_attachments',
    sa.Column('sha2', sa.String(length=128), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha2', name=op.f('pk_lrs_attachments'))
    )
    op.create_table('lrs_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('authority', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('launch_agent', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=True),
    sa.Column('launch_activity_id', sa.String(length=2048), nullable=True),
    sa.Column('launch_registration', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_credentials')),
    sa.UniqueConstraint('key', name=op.f('uq_lrs_credentials_key'))
    )
    op.create_table('lrs_statements',
    sa.Column('sequence', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
              nullable=False),
    sa.Column('statement_id', sa.String(length=36), nullable=False),
    sa.Column('statement', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('actor_ifi', sa.String(length=2100), nullable=True),
    sa.Column('verb_id', sa.String(length=2048), nullable=False),
    sa.Column('object_activity_id', sa.String(length=2048), nullable=True),
    sa.Column('object_agent_ifi', sa.String(length=2100), nullable=True),
    sa.Column('object_statement_id', sa.String(length=36), nullable=True),
    sa.Column('registration', sa.String(length=36), nullable=True),
    sa.Column('authority_ifi', sa.String(length=2100), nullable=True),
    sa.Column('stored', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('voided', sa.Boolean(), nullable=False),
    sa.Column('voiding', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('sequence', name=op.f('pk_lrs_statements')),
    sa.UniqueConstraint('statement_id', name=op.f('uq_lrs_statements_statement_id'))
    )
    with op.batch_alter_table('lrs_statements', schema=None) as batch_op:
        batch_op.create_index('ix_lrs_statements_activity_sequence', ['object_activity_id', 'sequence'],
                              unique=False)
        batch_op.create_index('ix_lrs_statements_actor_sequence', ['actor_ifi', 'sequence'], unique=False)
        batch_op.create_index(batch_op.f('ix_lrs_statements_authority_ifi'), ['authority_ifi'], unique=False)
        batch_op.create_index(batch_op.f('ix_lrs_statements_object_agent_ifi'), ['object_agent_ifi'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_lrs_statements_object_statement_id'), ['object_statement_id'],
                              unique=False)
        batch_op.create_index('ix_lrs_statements_registration_sequence', ['registration', 'sequence'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_lrs_statements_stored'), ['stored'], unique=False)
        batch_op.create_index('ix_lrs_statements_verb_sequence', ['verb_id', 'sequence'], unique=False)

    op.create_table('lrs_statement_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('activity_id', sa.String(length=2048), nullable=False),
    sa.Column('direct', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['sequence'], ['lrs_statements.sequence'],
                            name=op.f('fk_lrs_statement_activities_sequence_lrs_statements'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_statement_activities'))
    )
    with op.batch_alter_table('lrs_statement_activities', schema=None) as batch_op:
        batch_op.create_index('ix_lrs_statement_activities_activity_sequence', ['activity_id', 'sequence'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_lrs_statement_activities_sequence'), ['sequence'], unique=False)

    op.create_table('lrs_statement_agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ifi', sa.String(length=2100), nullable=False),
    sa.Column('direct', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['sequence'], ['lrs_statements.sequence'],
                            name=op.f('fk_lrs_statement_agents_sequence_lrs_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_statement_agents'))
    )
    with op.batch_alter_table('lrs_statement_agents', schema=None) as batch_op:
        batch_op.create_index('ix_lrs_statement_agents_ifi_sequence', ['ifi', 'sequence'], unique=False)
        batch_op.create_index(batch_op.f('ix_lrs_statement_agents_sequence'), ['sequence'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lrs_statement_agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lrs_statement_agents_sequence'))
        batch_op.drop_index('ix_lrs_statement_agents_ifi_sequence')

    op.drop_table('lrs_statement_agents')
    with op.batch_alter_table('lrs_statement_activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lrs_statement_activities_sequence'))
        batch_op.drop_index('ix_lrs_statement_activities_activity_sequence')

    op.drop_table('lrs_statement_activities')
    with op.batch_alter_table('lrs_statements', schema=None) as batch_op:
        batch_op.drop_index('ix_lrs_statements_verb_sequence')
        batch_op.drop_index(batch_op.f('ix_lrs_statements_stored'))
        batch_op.drop_index('ix_lrs_statements_registration_sequence')
        batch_op.drop_index(batch_op.f('ix_lrs_statements_object_statement_id'))
        batch_op.drop_index(batch_op.f('ix_lrs_statements_object_agent_ifi'))
        batch_op.drop_index(batch_op.f('ix_lrs_statements_authority_ifi'))
        batch_op.drop_index('ix_lrs_statements_actor_sequence')
        batch_op.drop_index('ix_lrs_statements_activity_sequence')

    op.drop_table('lrs_statements')
    op.drop_table('lrs_credentials')
    op.drop_table('lrs_attachments')
