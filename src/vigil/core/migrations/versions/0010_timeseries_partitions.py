"""Time series on PostgreSQL: status/quality changes, events, segments and audit become range-partitioned

Each table is rebuilt as a partitioned table with the same columns, rows, sequences, foreign keys
and indexes (primary key and unique constraints gain the time column); partitions are created from
its oldest row (at most 36 months or 120 days back; older rows go to the default partition) to the
current month or day (the maintenance creates the ones ahead). SQLite tables stay as they are.

Revision ID: 0010_timeseries_partitions
Revises: 0003_analytics, 0003_video
Create Date: 2026-12-01 13:30:00
"""

from __future__ import annotations

from alembic import op

from vigil.core.models import utcnow
from vigil.core.timeseries import Series, convert_table, revert_table

revision = '0010_timeseries_partitions'
down_revision = ('0003_analytics', '0003_video')
branch_labels = None
depends_on = None

# Frozen here (not read from vigil.core.timeseries.SERIES): what this revision converts.
_TABLES = (("status_changes", "ts", "month"), ("quality_changes", "ts", "month"), ("events", "start", "month"),
           ("recording_segments", "start", "day"), ("audit_log", "ts", "month"))


def upgrade() -> None:
    conn = op.get_bind()
    now = utcnow()
    for table, column, unit in _TABLES:
        convert_table(conn, Series(table, column, unit, None), now=now)  # type: ignore[arg-type]


def downgrade() -> None:
    conn = op.get_bind()
    for table, column, unit in reversed(_TABLES):
        revert_table(conn, Series(table, column, unit, None))  # type: ignore[arg-type]
