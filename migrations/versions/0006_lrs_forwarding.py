"""lrs: forwarding targets and their delivery queue; pathways: cmi5 launch sessions

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import cairn.db  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lrs_forwarding_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('endpoint', sa.String(length=2048), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=500), nullable=False),
    sa.Column('xapi_version', sa.String(length=10), nullable=False),
    sa.Column('verbs', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('activities', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('actors', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('pathways', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cursor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delivered_count', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_token', sa.String(length=36), nullable=True),
    sa.Column('leased_until', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_forwarding_targets'))
    )
    with op.batch_alter_table('lrs_forwarding_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lrs_forwarding_targets_next_attempt_at'), ['next_attempt_at'],
                              unique=False)

    op.create_table('lrs_forwarding_rejections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.String(length=36), nullable=False),
    sa.Column('sequence', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['lrs_forwarding_targets.id'],
                            name=op.f('fk_lrs_forwarding_rejections_target_id_lrs_forwarding_targets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_forwarding_rejections'))
    )
    with op.batch_alter_table('lrs_forwarding_rejections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lrs_forwarding_rejections_target_id'), ['target_id'],
                              unique=False)

    op.create_table('pathway_cmi5_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.String(length=2048), nullable=False),
    sa.Column('actor', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('launch_mode', sa.String(length=10), nullable=False),
    sa.Column('fetch_token_sha256', sa.String(length=64), nullable=False),
    sa.Column('credential_key', sa.String(length=64), nullable=True),
    sa.Column('launched_statement_id', sa.String(length=36), nullable=False),
    sa.Column('launched_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('terminated_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('abandoned_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['step_id'], ['pathway_steps.id'],
                            name=op.f('fk_pathway_cmi5_sessions_step_id_pathway_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pathway_cmi5_sessions_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway_cmi5_sessions')),
    sa.UniqueConstraint('fetch_token_sha256', name=op.f('uq_pathway_cmi5_sessions_fetch_token_sha256'))
    )
    with op.batch_alter_table('pathway_cmi5_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pathway_cmi5_sessions_registration'), ['registration'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_pathway_cmi5_sessions_step_id'), ['step_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pathway_cmi5_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pathway_cmi5_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pathway_cmi5_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_pathway_cmi5_sessions_step_id'))
        batch_op.drop_index(batch_op.f('ix_pathway_cmi5_sessions_registration'))

    op.drop_table('pathway_cmi5_sessions')
    with op.batch_alter_table('lrs_forwarding_rejections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lrs_forwarding_rejections_target_id'))

    op.drop_table('lrs_forwarding_rejections')
    with op.batch_alter_table('lrs_forwarding_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lrs_forwarding_targets_next_attempt_at'))

    op.drop_table('lrs_forwarding_targets')
