"""Federation: fed_links, fed_changes, fed_remote, fed_state

Revision ID: 0007_federation
Revises: 0002
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0007_federation'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fed_links',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('name', sa.String(60), nullable=False, unique=True),
        sa.Column('direction', sa.String(10), nullable=False),
        sa.Column('region_code', sa.String(12), nullable=True),
        sa.Column('url', sa.String(300), nullable=False),
        sa.Column('ca_file', sa.String(500), nullable=False),
        sa.Column('token_sha256', sa.String(64), nullable=True, unique=True),
        sa.Column('peer_token_enc', sa.LargeBinary(), nullable=True),
        sa.Column('hello_enc', sa.LargeBinary(), nullable=True),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('last_contact', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('errors', sa.Integer(), nullable=False),
        sa.Column('lag', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
    )
    op.create_table(
        'fed_changes',
        sa.Column('seq', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('key', sa.String(40), nullable=False),
        sa.Column('ts', UTCDateTime(), nullable=False),
    )
    op.create_table(
        'fed_remote',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('link_id', sa.Integer(), sa.ForeignKey('fed_links.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('remote_key', sa.String(40), nullable=False),
        sa.Column('local_key', sa.String(40), nullable=False),
        sa.Column('origin', sa.String(300), nullable=False),
        sa.UniqueConstraint('link_id', 'kind', 'remote_key', name='uq_fed_remote_key'),
    )
    op.create_index('ix_fed_remote_link_id', 'fed_remote', ['link_id'])
    op.create_index('ix_fed_remote_local', 'fed_remote', ['kind', 'local_key'])
    op.create_table(
        'fed_state',
        sa.Column('name', sa.String(40), primary_key=True),
        sa.Column('value', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for name in ('fed_state', 'fed_remote', 'fed_changes', 'fed_links'):
        op.drop_table(name)
