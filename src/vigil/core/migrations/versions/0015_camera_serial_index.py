"""cameras: an index on the ID's centre code, type code and serial (the next generated serial in one step)

Revision ID: 0015_camera_serial_index
Revises: h2_region_outline
Depends on: 0005_camera_basic_auth (it rebuilds the table on SQLite, which drops an expression index: a later
batch change of ``cameras`` must create this index again)
Create Date: 2026-12-02 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_camera_serial_index"
down_revision = "h2_region_outline"
branch_labels = None
depends_on = "0005_camera_basic_auth"


def upgrade() -> None:
    op.create_index("ix_cameras_centre_type_serial", "cameras",
                    [sa.text("substr(id, 1, 8)"), sa.text("substr(id, 11, 3)"), sa.text("substr(id, 15, 6)")])


def downgrade() -> None:
    op.drop_index("ix_cameras_centre_type_serial", table_name="cameras")
