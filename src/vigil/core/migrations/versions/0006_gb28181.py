"""GB/T 28181 registrar: gb_devices and gb_channels

Revision ID: 0006_gb28181
Revises: 0002
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0006_gb28181'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'gb_devices',
        sa.Column('id', sa.String(20), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('password_enc', sa.LargeBinary(), nullable=True),
        sa.Column('region_code', sa.String(12), sa.ForeignKey('regions.code'), nullable=True),
        sa.Column('allowed_hosts', sa.String(500), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('transport', sa.String(3), nullable=False),
        sa.Column('host', sa.String(64), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('online', sa.Boolean(), nullable=False),
        sa.Column('registered_at', UTCDateTime(), nullable=True),
        sa.Column('expires_at', UTCDateTime(), nullable=True),
        sa.Column('last_seen', UTCDateTime(), nullable=True),
        sa.Column('manufacturer', sa.String(100), nullable=False),
        sa.Column('model', sa.String(100), nullable=False),
        sa.Column('firmware', sa.String(100), nullable=False),
        sa.Column('channel_count', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_gb_devices_region_code', 'gb_devices', ['region_code'])
    op.create_table(
        'gb_channels',
        sa.Column('device_id', sa.String(20), sa.ForeignKey('gb_devices.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('channel_id', sa.String(20), primary_key=True),
        sa.Column('parent_id', sa.String(20), nullable=False),
        sa.Column('civil_code', sa.String(12), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('kind', sa.String(12), nullable=False),
        sa.Column('status', sa.String(12), nullable=False),
        sa.Column('camera_id', sa.String(20), sa.ForeignKey('cameras.id', ondelete='SET NULL'), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
    )
    op.create_index('ix_gb_channels_parent_id', 'gb_channels', ['parent_id'])
    op.create_index('ix_gb_channels_camera_id', 'gb_channels', ['camera_id'])


def downgrade() -> None:
    op.drop_table('gb_channels')
    op.drop_table('gb_devices')
