"""pathways: the learning domain and its progress projection

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import cairn.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('academic_classes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('external_id', sa.String(length=1024), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_academic_classes')),
    sa.UniqueConstraint('source', 'external_id', name='uq_academic_classes_source_external')
    )
    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('activity_iri', sa.String(length=2048), nullable=False),
    sa.Column('pass_mark', sa.Float(), nullable=False),
    sa.Column('attempt_limit', sa.Integer(), nullable=True),
    sa.Column('time_limit_seconds', sa.Integer(), nullable=True),
    sa.Column('shuffle', sa.Boolean(), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments'))
    )
    op.create_table('audiences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audiences'))
    )
    op.create_table('pathway_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['pathway_categories.id'],
                            name=op.f('fk_pathway_categories_parent_id_pathway_categories'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway_categories'))
    )
    op.create_index(op.f('ix_pathway_categories_parent_id'), 'pathway_categories', ['parent_id'],
                    unique=False)
    op.create_table('progress_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_sequence', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_cursor'))
    )
    op.create_table('progress_facts',
    sa.Column('statement_id', sa.String(length=36), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('identity_kind', sa.String(length=20), nullable=False),
    sa.Column('identity_value', sa.String(length=2048), nullable=False),
    sa.Column('verb', sa.String(length=2048), nullable=False),
    sa.Column('activity_iri', sa.String(length=2048), nullable=False),
    sa.Column('registration', sa.String(length=36), nullable=True),
    sa.Column('timestamp', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=True),
    sa.Column('completion', sa.Boolean(), nullable=True),
    sa.Column('score_scaled', sa.Float(), nullable=True),
    sa.Column('voided_by', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('statement_id', name=op.f('pk_progress_facts'))
    )
    op.create_index(op.f('ix_progress_facts_activity_iri'), 'progress_facts', ['activity_iri'], unique=False)
    op.create_index(op.f('ix_progress_facts_identity_value'), 'progress_facts', ['identity_value'],
                    unique=False)
    op.create_index(op.f('ix_progress_facts_registration'), 'progress_facts', ['registration'], unique=False)
    op.create_index(op.f('ix_progress_facts_sequence'), 'progress_facts', ['sequence'], unique=False)
    op.create_table('progress_voids',
    sa.Column('target_id', sa.String(length=36), nullable=False),
    sa.Column('voiding_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('target_id', name=op.f('pk_progress_voids'))
    )
    op.create_table('assessment_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('interaction_type', sa.String(length=20), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('correct', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('activity_iri', sa.String(length=2048), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'],
                            name=op.f('fk_assessment_questions_assessment_id_assessments'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_questions'))
    )
    op.create_index(op.f('ix_assessment_questions_assessment_id'), 'assessment_questions', ['assessment_id'],
                    unique=False)
    op.create_table('audience_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'],
                            name=op.f('fk_audience_members_audience_id_audiences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audience_members_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audience_members')),
    sa.UniqueConstraint('audience_id', 'user_id', name='uq_audience_members_audience_user')
    )
    op.create_index(op.f('ix_audience_members_audience_id'), 'audience_members', ['audience_id'],
                    unique=False)
    op.create_index(op.f('ix_audience_members_user_id'), 'audience_members', ['user_id'], unique=False)
    op.create_table('certificate_codes',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lineage', sa.String(length=36), nullable=False),
    sa.Column('earned_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_certificate_codes_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_certificate_codes')),
    sa.UniqueConstraint('user_id', 'lineage', 'earned_at', name='uq_certificate_codes_award')
    )
    op.create_index(op.f('ix_certificate_codes_user_id'), 'certificate_codes', ['user_id'], unique=False)
    op.create_table('class_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['academic_classes.id'],
                            name=op.f('fk_class_members_class_id_academic_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_class_members_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_members')),
    sa.UniqueConstraint('class_id', 'user_id', name='uq_class_members_class_user')
    )
    op.create_index(op.f('ix_class_members_class_id'), 'class_members', ['class_id'], unique=False)
    op.create_index(op.f('ix_class_members_user_id'), 'class_members', ['user_id'], unique=False)
    op.create_table('pathway_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lineage', sa.String(length=36), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=True),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('mandatory', sa.Boolean(), nullable=False),
    sa.Column('self_enrolled', sa.Boolean(), nullable=False),
    sa.Column('due_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_days', sa.Integer(), nullable=True),
    sa.Column('recurrence_months', sa.Integer(), nullable=True),
    sa.Column('reminder_days', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'],
                            name=op.f('fk_pathway_assignments_audience_id_audiences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['class_id'], ['academic_classes.id'],
                            name=op.f('fk_pathway_assignments_class_id_academic_classes'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pathway_assignments_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway_assignments'))
    )
    op.create_index(op.f('ix_pathway_assignments_audience_id'), 'pathway_assignments', ['audience_id'],
                    unique=False)
    op.create_index(op.f('ix_pathway_assignments_class_id'), 'pathway_assignments', ['class_id'],
                    unique=False)
    op.create_index(op.f('ix_pathway_assignments_lineage'), 'pathway_assignments', ['lineage'], unique=False)
    op.create_index(op.f('ix_pathway_assignments_user_id'), 'pathway_assignments', ['user_id'], unique=False)
    op.create_table('pathways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lineage', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('outcome_kind', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('activity_iri', sa.String(length=2048), nullable=False),
    sa.Column('ordering', sa.String(length=20), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('grants_certification', sa.Boolean(), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=True),
    sa.Column('recertification_window_days', sa.Integer(), nullable=True),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['pathway_categories.id'],
                            name=op.f('fk_pathways_category_id_pathway_categories'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathways')),
    sa.UniqueConstraint('lineage', 'version', name='uq_pathways_lineage_version')
    )
    op.create_index(op.f('ix_pathways_category_id'), 'pathways', ['category_id'], unique=False)
    op.create_index(op.f('ix_pathways_lineage'), 'pathways', ['lineage'], unique=False)
    op.create_index(op.f('ix_pathways_status'), 'pathways', ['status'], unique=False)
    op.create_table('certification_awards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pathway_id', sa.Integer(), nullable=False),
    sa.Column('earned_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('revoked_by', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('statement_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.ForeignKeyConstraint(['pathway_id'], ['pathways.id'],
                            name=op.f('fk_certification_awards_pathway_id_pathways'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_certification_awards_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certification_awards')),
    sa.UniqueConstraint('user_id', 'pathway_id', 'earned_at', name='uq_certification_awards_award')
    )
    op.create_index(op.f('ix_certification_awards_pathway_id'), 'certification_awards', ['pathway_id'],
                    unique=False)
    op.create_index(op.f('ix_certification_awards_user_id'), 'certification_awards', ['user_id'],
                    unique=False)
    op.create_table('pathway_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pathway_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('completed_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('best_score', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_activity_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renewal_opens_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renewal_percent', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.ForeignKeyConstraint(['pathway_id'], ['pathways.id'],
                            name=op.f('fk_pathway_progress_pathway_id_pathways'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pathway_progress_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway_progress')),
    sa.UniqueConstraint('user_id', 'pathway_id', name='uq_pathway_progress_user_pathway')
    )
    op.create_index(op.f('ix_pathway_progress_pathway_id'), 'pathway_progress', ['pathway_id'], unique=False)
    op.create_index(op.f('ix_pathway_progress_user_id'), 'pathway_progress', ['user_id'], unique=False)
    op.create_table('pathway_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pathway_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('activity_iri', sa.String(length=2048), nullable=False),
    sa.Column('launch_url', sa.String(length=2048), nullable=True),
    sa.Column('done_verbs', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('move_on', sa.String(length=30), nullable=True),
    sa.Column('mastery_score', sa.Float(), nullable=True),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('min_score', sa.Float(), nullable=True),
    sa.Column('session_starts_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_place', sa.String(length=300), nullable=True),
    sa.Column('session_capacity', sa.Integer(), nullable=True),
    sa.Column('document_url', sa.String(length=2048), nullable=True),
    sa.Column('assessment_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=36), nullable=False),
    sa.Column('prerequisites', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'],
                            name=op.f('fk_pathway_steps_assessment_id_assessments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pathway_id'], ['pathways.id'],
                            name=op.f('fk_pathway_steps_pathway_id_pathways'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway_steps'))
    )
    op.create_index(op.f('ix_pathway_steps_activity_iri'), 'pathway_steps', ['activity_iri'], unique=False)
    op.create_index(op.f('ix_pathway_steps_pathway_id'), 'pathway_steps', ['pathway_id'], unique=False)
    op.create_table('assessment_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('question_order', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('started_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('scaled_score', sa.Float(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'],
                            name=op.f('fk_assessment_attempts_assessment_id_assessments'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['pathway_steps.id'],
                            name=op.f('fk_assessment_attempts_step_id_pathway_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_assessment_attempts_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_attempts'))
    )
    op.create_index(op.f('ix_assessment_attempts_assessment_id'), 'assessment_attempts', ['assessment_id'],
                    unique=False)
    op.create_index(op.f('ix_assessment_attempts_user_id'), 'assessment_attempts', ['user_id'], unique=False)
    op.create_table('pathway_step_launches',
    sa.Column('registration', sa.String(length=36), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', cairn.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['pathway_steps.id'],
                            name=op.f('fk_pathway_step_launches_step_id_pathway_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pathway_step_launches_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('registration', name=op.f('pk_pathway_step_launches'))
    )
    op.create_index(op.f('ix_pathway_step_launches_step_id'), 'pathway_step_launches', ['step_id'],
                    unique=False)
    op.create_index(op.f('ix_pathway_step_launches_user_id'), 'pathway_step_launches', ['user_id'],
                    unique=False)
    op.create_table('step_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('done_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('best_score', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_activity_at', cairn.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.Column('withdrawn', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
              nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['pathway_steps.id'],
                            name=op.f('fk_step_progress_step_id_pathway_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_step_progress_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_progress')),
    sa.UniqueConstraint('user_id', 'step_id', name='uq_step_progress_user_step')
    )
    op.create_index(op.f('ix_step_progress_step_id'), 'step_progress', ['step_id'], unique=False)
    op.create_index(op.f('ix_step_progress_user_id'), 'step_progress', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_step_progress_user_id'), table_name='step_progress')
    op.drop_index(op.f('ix_step_progress_step_id'), table_name='step_progress')
    op.drop_table('step_progress')
    op.drop_index(op.f('ix_pathway_step_launches_user_id'), table_name='pathway_step_launches')
    op.drop_index(op.f('ix_pathway_step_launches_step_id'), table_name='pathway_step_launches')
    op.drop_table('pathway_step_launches')
    op.drop_index(op.f('ix_assessment_attempts_user_id'), table_name='assessment_attempts')
    op.drop_index(op.f('ix_assessment_attempts_assessment_id'), table_name='assessment_attempts')
    op.drop_table('assessment_attempts')
    op.drop_index(op.f('ix_pathway_steps_pathway_id'), table_name='pathway_steps')
    op.drop_index(op.f('ix_pathway_steps_activity_iri'), table_name='pathway_steps')
    op.drop_table('pathway_steps')
    op.drop_index(op.f('ix_pathway_progress_user_id'), table_name='pathway_progress')
    op.drop_index(op.f('ix_pathway_progress_pathway_id'), table_name='pathway_progress')
    op.drop_table('pathway_progress')
    op.drop_index(op.f('ix_certification_awards_user_id'), table_name='certification_awards')
    op.drop_index(op.f('ix_certification_awards_pathway_id'), table_name='certification_awards')
    op.drop_table('certification_awards')
    op.drop_index(op.f('ix_pathways_status'), table_name='pathways')
    op.drop_index(op.f('ix_pathways_lineage'), table_name='pathways')
    op.drop_index(op.f('ix_pathways_category_id'), table_name='pathways')
    op.drop_table('pathways')
    op.drop_index(op.f('ix_pathway_assignments_user_id'), table_name='pathway_assignments')
    op.drop_index(op.f('ix_pathway_assignments_lineage'), table_name='pathway_assignments')
    op.drop_index(op.f('ix_pathway_assignments_class_id'), table_name='pathway_assignments')
    op.drop_index(op.f('ix_pathway_assignments_audience_id'), table_name='pathway_assignments')
    op.drop_table('pathway_assignments')
    op.drop_index(op.f('ix_class_members_user_id'), table_name='class_members')
    op.drop_index(op.f('ix_class_members_class_id'), table_name='class_members')
    op.drop_table('class_members')
    op.drop_index(op.f('ix_certificate_codes_user_id'), table_name='certificate_codes')
    op.drop_table('certificate_codes')
    op.drop_index(op.f('ix_audience_members_user_id'), table_name='audience_members')
    op.drop_index(op.f('ix_audience_members_audience_id'), table_name='audience_members')
    op.drop_table('audience_members')
    op.drop_index(op.f('ix_assessment_questions_assessment_id'), table_name='assessment_questions')
    op.drop_table('assessment_questions')
    op.drop_table('progress_voids')
    op.drop_index(op.f('ix_progress_facts_sequence'), table_name='progress_facts')
    op.drop_index(op.f('ix_progress_facts_registration'), table_name='progress_facts')
    op.drop_index(op.f('ix_progress_facts_identity_value'), table_name='progress_facts')
    op.drop_index(op.f('ix_progress_facts_activity_iri'), table_name='progress_facts')
    op.drop_table('progress_facts')
    op.drop_table('progress_cursor')
    op.drop_index(op.f('ix_pathway_categories_parent_id'), table_name='pathway_categories')
    op.drop_table('pathway_categories')
    op.drop_table('audiences')
    op.drop_table('assessments')
    op.drop_table('academic_classes')
