"""Worker tables: the writer's inbox (message ids) and shard fences (highest fencing token per shard)

Revision ID: 0009_worker_tables
Revises: 0002
Create Date: 2026-12-01 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0009_worker_tables'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_inbox',
                    sa.Column('msg_id', sa.String(length=120), nullable=False),
                    sa.Column('stored_at', UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('msg_id'))
    op.create_index('ix_worker_inbox_stored_at', 'worker_inbox', ['stored_at'])
    op.create_table('shard_fences',
                    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('token', sa.BigInteger(), nullable=False),
                    sa.Column('worker', sa.String(length=120), nullable=False),
                    sa.Column('updated_at', UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('shard'))


def downgrade() -> None:
    op.drop_table('shard_fences')
    op.drop_index('ix_worker_inbox_stored_at', table_name='worker_inbox')
    op.drop_table('worker_inbox')
