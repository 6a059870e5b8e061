"""segments name the worker that holds them (recording_segments.node); media_nodes: where to fetch them

Revision ID: w15_segment_nodes
Revises: 0010_timeseries_partitions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = "w15_segment_nodes"
down_revision = "0010_timeseries_partitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On PostgreSQL recording_segments is partitioned: ADD COLUMN on the parent reaches every partition.
    op.add_column("recording_segments", sa.Column("node", sa.String(length=120), nullable=False, server_default=""))
    op.create_table("media_nodes",
                    sa.Column("name", sa.String(length=120), nullable=False),
                    sa.Column("url", sa.String(length=300), nullable=False),
                    sa.Column("seen_at", UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("name"))


def downgrade() -> None:
    op.drop_table("media_nodes")
    with op.batch_alter_table("recording_segments") as b:
        b.drop_column("node")
