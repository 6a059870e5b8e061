"""gb_uppers: the registration state the running link reports (registered, when, last keepalive, last error)

Revision ID: 0010_gb_upper_state
Revises: 0006_gb_upper
Create Date: 2026-12-01 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0010_gb_upper_state'
down_revision = '0006_gb_upper'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gb_uppers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('registered_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_keepalive', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=200), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('gb_uppers', schema=None) as batch_op:
        for name in ('last_error', 'last_keepalive', 'registered_at', 'registered'):
            batch_op.drop_column(name)
