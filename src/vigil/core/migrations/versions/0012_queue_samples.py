"""queue_samples: per-minute longest queue of each lane zone (traffic views)

Revision ID: 0012_queue_samples
Revises: 0004_analytics_settings
Create Date: 2026-12-01 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0012_queue_samples'
down_revision = '0004_analytics_settings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('queue_samples',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('camera_id', sa.String(length=20), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('zone', sa.String(length=100), nullable=False),
    sa.Column('minute', UTCDateTime(), nullable=False),
    sa.Column('max_m', sa.Float(), nullable=False),
    sa.Column('vehicles', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('camera_id', 'zone', 'minute', name='uq_queue_samples_camera_zone_minute')
    )
    with op.batch_alter_table('queue_samples', schema=None) as batch_op:
        batch_op.create_index('ix_queue_samples_region_minute', ['region_code', 'minute'], unique=False)
        batch_op.create_index(batch_op.f('ix_queue_samples_minute'), ['minute'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('queue_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_samples_minute'))
        batch_op.drop_index('ix_queue_samples_region_minute')
    op.drop_table('queue_samples')
