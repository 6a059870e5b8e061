"""plan_jobs (plans run as jobs); site_coverage history (source, cameras, fingerprint); plans.inputs

Revision ID: 0011_plan_jobs
Revises: 0002
Create Date: 2026-12-01 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0011_plan_jobs'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'plan_jobs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('percent', sa.Float(), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('request', sa.JSON(), nullable=False),
        sa.Column('work_dir', sa.String(length=500), nullable=False),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('runner', sa.String(length=200), nullable=False),
        sa.Column('heartbeat_at', UTCDateTime(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_plan_jobs_region_code', 'plan_jobs', ['region_code'])
    op.create_index('ix_plan_jobs_state', 'plan_jobs', ['state', 'created_at'])
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inputs', sa.JSON(), nullable=True))
    with op.batch_alter_table('site_coverage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=10), server_default='plan', nullable=False))
        batch_op.add_column(sa.Column('cameras', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('site_coverage', schema=None) as batch_op:
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('cameras')
        batch_op.drop_column('source')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('inputs')
    op.drop_index('ix_plan_jobs_state', table_name='plan_jobs')
    op.drop_index('ix_plan_jobs_region_code', table_name='plan_jobs')
    op.drop_table('plan_jobs')
