"""analytics settings: per-camera switch and zones of continuous analytics

Revision ID: 0004_analytics_settings
Revises: 0003_analytics
Create Date: 2026-11-27 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vigil.core.models

revision = '0004_analytics_settings'
down_revision = '0003_analytics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_settings',
    sa.Column('camera_id', sa.String(length=20), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('zones', sa.JSON(), nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', vigil.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('camera_id')
    )
    with op.batch_alter_table('analytics_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_settings_enabled'), ['enabled'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('analytics_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_settings_enabled'))
    op.drop_table('analytics_settings')
