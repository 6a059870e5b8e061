"""Health tables: current status, state changes (not samples), baselines, alarms, work orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow


class CameraStatus(Base):
    """The current, debounced state of one camera (one row per camera)."""

    __tablename__ = "camera_status"

    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="unknown")  # online | down | unknown
    reason: Mapped[str] = mapped_column(String(20), default="")  # refused, timeout, auth, protocol, ...
    since: Mapped[datetime] = mapped_column(default=utcnow)
    last_probe_at: Mapped[datetime | None]
    last_ms: Mapped[float | None] = mapped_column(Float)
    consecutive_fail: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_ok: Mapped[int] = mapped_column(Integer, default=0)
    faults: Mapped[list[Any]] = mapped_column(JSON, default=list)  # confirmed picture faults
    faults_since: Mapped[datetime | None]
    last_diagnosis_at: Mapped[datetime | None]


class StatusChange(Base):
    """A change of a camera's online state: the time series the online rate is computed from."""

    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_cam_ts", "camera_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(20), default="")
    ms: Mapped[float | None] = mapped_column(Float)


class QualityChange(Base):
    """A change of a camera's confirmed picture-fault set: the integrity-rate time series."""

    __tablename__ = "quality_changes"
    __table_args__ = (Index("ix_quality_changes_cam_ts", "camera_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    faults: Mapped[list[Any]] = mapped_column(JSON, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class VqdBaseline(Base):
    """A camera's learned picture baseline (metric statistics and a reference edge map)."""

    __tablename__ = "vqd_baselines"

    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reference: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MaintenanceTeam(Base):
    """A contractor's team responsible for a region subtree."""

    __tablename__ = "maintenance_teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    contractor: Mapped[str] = mapped_column(String(100), default="")
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    sla_hours: Mapped[float] = mapped_column(Float, default=24.0)


class Alarm(Base):
    """An alarm raised and cleared automatically (offline, or a confirmed picture fault)."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_cam_state", "camera_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # offline | blur | dark | ...
    severity: Mapped[str] = mapped_column(String(10), default="major")
    state: Mapped[str] = mapped_column(String(10), default="active")  # active | cleared
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WorkOrder(Base):
    """A maintenance work order with an SLA clock; closed only after a re-probe verifies recovery."""

    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_region_state", "region_code", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_teams.id"))
    state: Mapped[str] = mapped_column(String(20), default="open")
    opened_at: Mapped[datetime]
    due_at: Mapped[datetime]
    assigned_to: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ReportedRepair(Base):
    """A repair verified on an instance below (federation): what the repair-time KPI needs of it, no more.

    The start is the alarm's raise (or the work order's opening, without an alarm), as for a local work order.
    """

    __tablename__ = "reported_repairs"
    __table_args__ = (Index("ix_reported_repairs_region_verified", "region_code", "verified_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    contractor: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime]
    verified_at: Mapped[datetime]
