"""lti: platforms, deployments, tool keys, nonces, classes and the AGS queue

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

import cairn.db  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lti_platforms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=2048), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('auth_login_url', sa.String(length=2048), nullable=False),
    sa.Column('token_url', sa.String(length=2048), nullable=False),
    sa.Column('jwks_url', sa.String(length=2048), nullable=False),
    sa.Column('auth_audience', sa.String(length=2048), nullable=True),
    sa.Column('jwks', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=True),
    sa.Column('jwks_fetched_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platforms')),
    sa.UniqueConstraint('issuer', 'client_id', name='uq_lti_platforms_issuer_client_id')
    )
    op.create_table('lti_tool_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('private_pem', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('activates_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_tool_keys')),
    sa.UniqueConstraint('kid', name=op.f('uq_lti_tool_keys_kid'))
    )
    op.create_table('lti_used_nonces',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('issuer', sa.String(length=2048), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=False),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_used_nonces')),
    sa.UniqueConstraint('issuer', 'nonce', name='uq_lti_used_nonces_issuer_nonce')
    )
    with op.batch_alter_table('lti_used_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_used_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('lti_contexts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('memberships_url', sa.String(length=2048), nullable=True),
    sa.Column('lineitems_url', sa.String(length=2048), nullable=True),
    sa.Column('ags_scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('roster_synced_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'],
                            name=op.f('fk_lti_contexts_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_contexts')),
    sa.UniqueConstraint('platform_id', 'context_id', name='uq_lti_contexts_platform_id')
    )
    op.create_table('lti_deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'],
                            name=op.f('fk_lti_deployments_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_deployments')),
    sa.UniqueConstraint('platform_id', 'deployment_id', name='uq_lti_deployments_platform_id')
    )
    op.create_table('lti_login_states',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=100), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('target_link_uri', sa.String(length=2048), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'],
                            name=op.f('fk_lti_login_states_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_login_states')),
    sa.UniqueConstraint('state', name=op.f('uq_lti_login_states_state'))
    )
    with op.batch_alter_table('lti_login_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_login_states_expires_at'), ['expires_at'], unique=False)

    op.create_table('lti_context_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['lti_contexts.id'],
                            name=op.f('fk_lti_context_members_context_id_lti_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_context_members_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_context_members')),
    sa.UniqueConstraint('context_id', 'user_id', name='uq_lti_context_members_context_id')
    )
    with op.batch_alter_table('lti_context_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_context_members_user_id'), ['user_id'], unique=False)

    op.create_table('lti_resource_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=True),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('target_kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.String(length=255), nullable=True),
    sa.Column('lineitem_url', sa.String(length=2048), nullable=True),
    sa.Column('lineitems_url', sa.String(length=2048), nullable=True),
    sa.Column('ags_scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('score_maximum', sa.Float(), nullable=True),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['lti_contexts.id'],
                            name=op.f('fk_lti_resource_links_context_id_lti_contexts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'],
                            name=op.f('fk_lti_resource_links_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_resource_links')),
    sa.UniqueConstraint('platform_id', 'resource_link_id', name='uq_lti_resource_links_platform_id')
    )
    op.create_table('lti_launches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=True),
    sa.Column('resource_link_id', sa.Integer(), nullable=True),
    sa.Column('message_type', sa.String(length=50), nullable=False),
    sa.Column('destination', sa.String(length=2048), nullable=False),
    sa.Column('deep_linking_settings',
              sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('continued_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['context_id'], ['lti_contexts.id'],
                            name=op.f('fk_lti_launches_context_id_lti_contexts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'],
                            name=op.f('fk_lti_launches_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_links.id'],
                            name=op.f('fk_lti_launches_resource_link_id_lti_resource_links'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_launches_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_launches')),
    sa.UniqueConstraint('token', name=op.f('uq_lti_launches_token'))
    )
    with op.batch_alter_table('lti_launches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_launches_expires_at'), ['expires_at'], unique=False)

    op.create_table('lti_score_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('score_given', sa.Float(), nullable=True),
    sa.Column('score_maximum', sa.Float(), nullable=False),
    sa.Column('activity_progress', sa.String(length=20), nullable=False),
    sa.Column('grading_progress', sa.String(length=20), nullable=False),
    sa.Column('timestamp', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.String(length=1000), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('leased_until', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('delivered_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_links.id'],
                            name=op.f('fk_lti_score_deliveries_resource_link_id_lti_resource_links'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lti_score_deliveries_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_score_deliveries'))
    )
    with op.batch_alter_table('lti_score_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_lti_score_deliveries_pending', ['delivered_at', 'next_attempt_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_lti_score_deliveries_resource_link_id'), ['resource_link_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lti_score_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_score_deliveries_resource_link_id'))
        batch_op.drop_index('ix_lti_score_deliveries_pending')

    op.drop_table('lti_score_deliveries')
    with op.batch_alter_table('lti_launches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_launches_expires_at'))

    op.drop_table('lti_launches')
    op.drop_table('lti_resource_links')
    with op.batch_alter_table('lti_context_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_context_members_user_id'))

    op.drop_table('lti_context_members')
    with op.batch_alter_table('lti_login_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_login_states_expires_at'))

    op.drop_table('lti_login_states')
    op.drop_table('lti_deployments')
    op.drop_table('lti_contexts')
    with op.batch_alter_table('lti_used_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_used_nonces_expires_at'))

    op.drop_table('lti_used_nonces')
    op.drop_table('lti_tool_keys')
    op.drop_table('lti_platforms')
