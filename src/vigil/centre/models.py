"""Monitoring-centre tables: shifts, duty sessions, handovers, escalations, patrol rounds, incidents, cases.

Every row carries the ``region_code`` of the centre (or camera) it belongs to, so the guard decides who
sees it. Nothing here holds an identity feature: places, times, cameras and notes only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow

__all__ = ["CaseExport", "CaseFile", "CaseRetrieval", "DutySession", "Escalation", "Handover", "Incident",
           "IncidentItem", "PatrolRound", "RoundRun", "RoundView", "ShiftDef"]


class ShiftDef(Base):
    """A shift of a centre's team: a start time of day (local) and a length."""

    __tablename__ = "centre_shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    team: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(60))
    start_minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    hours: Mapped[float] = mapped_column(Float, default=8.0)
    response_minutes: Mapped[int] = mapped_column(Integer, default=15)  # alarm response time on this shift


class DutySession(Base):
    """One person signed on to a shift (``off_at`` is set at sign-off)."""

    __tablename__ = "centre_duty"
    __table_args__ = (Index("ix_centre_duty_open", "region_code", "off_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("centre_shifts.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12))
    user_name: Mapped[str] = mapped_column(String(100))
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    on_at: Mapped[datetime] = mapped_column(default=utcnow)
    off_at: Mapped[datetime | None]


class Handover(Base):
    """What one shift passes to the next: written by the outgoing officer, acknowledged by the incoming one."""

    __tablename__ = "centre_handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("centre_shifts.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    outgoing: Mapped[str] = mapped_column(String(100))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    notes: Mapped[str] = mapped_column(Text, default="")
    items: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # open alarms, orders, events, incidents
    incoming: Mapped[str] = mapped_column(String(100), default="")
    acked_at: Mapped[datetime | None]


class Escalation(Base):
    """An alarm left unacknowledged past its response time, passed to the shift leader (once per alarm)."""

    __tablename__ = "centre_escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), unique=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    to_user: Mapped[str] = mapped_column(String(100), default="")
    routed_to: Mapped[list[Any]] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PatrolRound(Base):
    """A named list of cameras (or presets) viewed in turn, with a dwell time and a checklist."""

    __tablename__ = "centre_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    cameras: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"camera_id", "preset"}]
    dwell_s: Mapped[int] = mapped_column(Integer, default=20)
    checklist: Mapped[list[Any]] = mapped_column(JSON, default=list)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("centre_shifts.id", ondelete="SET NULL"))
    hours: Mapped[list[Any]] = mapped_column(JSON, default=list)  # local hours of day it is due
    grace_minutes: Mapped[int] = mapped_column(Integer, default=30)


class RoundRun(Base):
    """One run of a round: started by an officer, due at a slot, finished (on time or late) or missed."""

    __tablename__ = "centre_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("centre_rounds.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    due_at: Mapped[datetime | None]
    officer: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(10), default="running")  # running | done | missed
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class RoundView(Base):
    """One camera's view in a run, marked normal or abnormal."""

    __tablename__ = "centre_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("centre_runs.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10))  # normal | abnormal
    note: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[str] = mapped_column(String(300), default="")
    checks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("centre_incidents.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """Something the centre works on: a timeline of events, alarms, clips, snapshots, places and notes."""

    __tablename__ = "centre_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | investigating | closed
    assignee: Mapped[str] = mapped_column(String(100), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("centre_cases.id", ondelete="SET NULL"))


class IncidentItem(Base):
    """One entry on an incident's timeline."""

    __tablename__ = "centre_incident_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("centre_incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # event | alarm | clip | snapshot | position | note
    ref: Mapped[str] = mapped_column(String(100), default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(100))


class CaseFile(Base):
    """A case number grouping incidents and retrieval requests; its reason rides on every use."""

    __tablename__ = "centre_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseRetrieval(Base):
    """A retrieval request filed under a case."""

    __tablename__ = "centre_case_retrievals"

    case_id: Mapped[int] = mapped_column(ForeignKey("centre_cases.id", ondelete="CASCADE"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("retrieval_requests.id", ondelete="CASCADE"),
                                            primary_key=True)


class CaseExport(Base):
    """A case's export package: its folder and the chain-of-custody manifest."""

    __tablename__ = "centre_case_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("centre_cases.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    path: Mapped[str] = mapped_column(String(500))
    custody: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
