"""GB/T 28181 cascade: gb_uppers (upper platforms Vigil registers to)

Revision ID: 0006_gb_upper
Revises: 0006_gb28181
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0006_gb_upper'
down_revision = '0006_gb28181'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'gb_uppers',
        sa.Column('id', sa.String(20), primary_key=True),
        sa.Column('host', sa.String(64), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('local_id', sa.String(20), nullable=False),
        sa.Column('password_enc', sa.LargeBinary(), nullable=True),
        sa.Column('expires', sa.Integer(), nullable=False),
        sa.Column('keepalive', sa.Integer(), nullable=False),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('gb_uppers')
