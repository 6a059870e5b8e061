"""regions.outline: where a region lies, as a GeoJSON (Multi)Polygon in WGS84 (optional)

Revision ID: h2_region_outline
Revises: 0008_row_versions
Create Date: 2026-12-01 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h2_region_outline"
down_revision = "0008_row_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outline", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_column("outline")
