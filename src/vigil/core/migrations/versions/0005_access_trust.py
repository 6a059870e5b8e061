"""users.created_by (who created each account) and the keyed audit chain

Existing audit entries keep their SHA-256 hashes; one keyed ``audit.rekey`` entry closes them.

Revision ID: 0005_access_trust
Revises: 0002
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from vigil.access.audit import seal_legacy
from vigil.core.config import load_settings

revision = '0005_access_trust'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_users_created_by', 'users', ['created_by'], ['id'], ondelete='SET NULL')
    config = op.get_context().config
    settings = (config.attributes.get("settings") if config is not None else None) or load_settings()
    with Session(bind=op.get_bind(), info={"settings": settings}) as s:
        seal_legacy(s)
        s.flush()


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('fk_users_created_by', type_='foreignkey')
        batch_op.drop_column('created_by')
