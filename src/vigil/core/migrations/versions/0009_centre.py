"""Monitoring centre: shifts, duty, handovers, escalations, patrol rounds, incidents, case files

Revision ID: 0009_centre
Revises: 0007_federation
Create Date: 2026-12-01 10:29:06.161856
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.models import UTCDateTime

revision = '0009_centre'
down_revision = '0007_federation'
branch_labels = None
depends_on = ('0003_video',)  # foreign keys to retrieval_requests


def upgrade() -> None:
    op.create_table('centre_cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('centre_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_cases_region_code'), ['region_code'], unique=False)

    op.create_table('centre_shifts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('response_minutes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_shifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_shifts_region_code'), ['region_code'], unique=False)

    op.create_table('centre_case_exports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('custody', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['centre_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_case_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_case_exports_case_id'), ['case_id'], unique=False)

    op.create_table('centre_duty',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('leader', sa.Boolean(), nullable=False),
    sa.Column('on_at', UTCDateTime(), nullable=False),
    sa.Column('off_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['shift_id'], ['centre_shifts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_duty', schema=None) as batch_op:
        batch_op.create_index('ix_centre_duty_open', ['region_code', 'off_at'], unique=False)

    op.create_table('centre_handovers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('outgoing', sa.String(length=100), nullable=False),
    sa.Column('written_at', UTCDateTime(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('incoming', sa.String(length=100), nullable=False),
    sa.Column('acked_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['shift_id'], ['centre_shifts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_handovers_region_code'), ['region_code'], unique=False)

    op.create_table('centre_incidents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['centre_cases.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_incidents_region_code'), ['region_code'], unique=False)

    op.create_table('centre_rounds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('cameras', sa.JSON(), nullable=False),
    sa.Column('dwell_s', sa.Integer(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=True),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('grace_minutes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], ),
    sa.ForeignKeyConstraint(['shift_id'], ['centre_shifts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_rounds_region_code'), ['region_code'], unique=False)

    op.create_table('centre_incident_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['centre_incidents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_incident_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_incident_items_incident_id'), ['incident_id'], unique=False)

    op.create_table('centre_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=True),
    sa.Column('officer', sa.String(length=100), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['centre_rounds.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_runs_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_centre_runs_round_id'), ['round_id'], unique=False)

    op.create_table('centre_case_retrievals',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['centre_cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['retrieval_requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'request_id')
    )
    op.create_table('centre_escalations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('to_user', sa.String(length=100), nullable=False),
    sa.Column('routed_to', sa.JSON(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alarm_id')
    )
    with op.batch_alter_table('centre_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_escalations_region_code'), ['region_code'], unique=False)

    op.create_table('centre_views',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('snapshot', sa.String(length=300), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['centre_incidents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['centre_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('centre_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centre_views_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('centre_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_views_run_id'))

    op.drop_table('centre_views')
    with op.batch_alter_table('centre_escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_escalations_region_code'))

    op.drop_table('centre_escalations')
    op.drop_table('centre_case_retrievals')
    with op.batch_alter_table('centre_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_runs_round_id'))
        batch_op.drop_index(batch_op.f('ix_centre_runs_region_code'))

    op.drop_table('centre_runs')
    with op.batch_alter_table('centre_incident_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_incident_items_incident_id'))

    op.drop_table('centre_incident_items')
    with op.batch_alter_table('centre_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_rounds_region_code'))

    op.drop_table('centre_rounds')
    with op.batch_alter_table('centre_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_incidents_region_code'))

    op.drop_table('centre_incidents')
    with op.batch_alter_table('centre_handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_handovers_region_code'))

    op.drop_table('centre_handovers')
    with op.batch_alter_table('centre_duty', schema=None) as batch_op:
        batch_op.drop_index('ix_centre_duty_open')

    op.drop_table('centre_duty')
    with op.batch_alter_table('centre_case_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_case_exports_case_id'))

    op.drop_table('centre_case_exports')
    with op.batch_alter_table('centre_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_shifts_region_code'))

    op.drop_table('centre_shifts')
    with op.batch_alter_table('centre_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centre_cases_region_code'))

    op.drop_table('centre_cases')
