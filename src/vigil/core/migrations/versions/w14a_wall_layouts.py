"""wall_layouts: each user's saved video-wall layouts

Revision ID: w14a_wall_layouts
Revises: 0003_video
Create Date: 2026-12-01 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = "w14a_wall_layouts"
down_revision = "0003_video"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wall_layouts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("cycle_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name", name="uq_wall_layouts_user_name"),
    )
    with op.batch_alter_table("wall_layouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wall_layouts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wall_layouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wall_layouts_user_id"))
    op.drop_table("wall_layouts")
