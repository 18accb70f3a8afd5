"""lrs: state, activity profile and agent profile documents

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

import cairn.db  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lrs_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scope_hash', sa.String(length=64), nullable=False),
    sa.Column('activity_id', sa.String(length=2048), nullable=True),
    sa.Column('agent_key', sa.Text(), nullable=True),
    sa.Column('registration', sa.String(length=36), nullable=True),
    sa.Column('document_id', sa.Text(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('etag', sa.String(length=40), nullable=False),
    sa.Column('updated', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_documents')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_lrs_documents_key_hash'))
    )
    with op.batch_alter_table('lrs_documents', schema=None) as batch_op:
        batch_op.create_index('ix_lrs_documents_scope_hash_updated', ['scope_hash', 'updated'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lrs_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_lrs_documents_scope_hash_updated')

    op.drop_table('lrs_documents')
