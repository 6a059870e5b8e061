"""Row versions on regions, sites, cameras and users: optimistic locking (ETag / If-Match, lost update = 409)

Revision ID: 0008_row_versions
Revises: 0002
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_row_versions'
down_revision = '0002'
branch_labels = None
depends_on = None

_TABLES = ("regions", "sites", "cameras", "users")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
