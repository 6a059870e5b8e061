"""analytics events

Revision ID: 0003_analytics
Revises: 0002
Create Date: 2026-11-27 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vigil.core.models

revision = '0003_analytics'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('camera_id', sa.String(length=20), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=30), nullable=False),
    sa.Column('start', vigil.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', vigil.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('zone', sa.String(length=100), nullable=True),
    sa.Column('direction', sa.String(length=10), nullable=True),
    sa.Column('box', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('snapshot_path', sa.String(length=500), nullable=True),
    sa.Column('clip_url', sa.String(length=500), nullable=False),
    sa.Column('created_at', vigil.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_camera_start', ['camera_id', 'start'], unique=False)
        batch_op.create_index('ix_events_region_start', ['region_code', 'start'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_type'), ['type'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_label'), ['label'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_start'), ['start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_start'))
        batch_op.drop_index(batch_op.f('ix_events_label'))
        batch_op.drop_index(batch_op.f('ix_events_type'))
        batch_op.drop_index('ix_events_region_start')
        batch_op.drop_index('ix_events_camera_start')
    op.drop_table('events')
