"""notification channels: WeCom, DingTalk and Feishu robots and e-mail beside signed webhooks (vigil.notify)

Revision ID: 0013_notify_channels
Revises: 0003_notify
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_notify_channels"
down_revision = "0003_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as b:
        b.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="webhook"))
        b.add_column(sa.Column("options", sa.JSON(), nullable=True))
        b.add_column(sa.Column("target_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as b:
        b.drop_column("target_enc")
        b.drop_column("options")
        b.drop_column("kind")
