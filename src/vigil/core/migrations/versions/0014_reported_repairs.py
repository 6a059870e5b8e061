"""reported_repairs: repairs verified on an instance below, for the parent's repair-time KPI (federation)

Revision ID: 0014_reported_repairs
Revises: 0007_federation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = "0014_reported_repairs"
down_revision = "0007_federation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reported_repairs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(length=20), sa.ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("contractor", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_reported_repairs_camera_id", "reported_repairs", ["camera_id"])
    op.create_index("ix_reported_repairs_region_verified", "reported_repairs", ["region_code", "verified_at"])


def downgrade() -> None:
    op.drop_table("reported_repairs")
