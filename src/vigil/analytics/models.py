"""Analytics tables: detected events with snapshots, and the per-camera switch of continuous analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow

__all__ = ["AnalyticsSetting", "Event", "QueueSample"]


class Event(Base):
    """Something seen by one camera: an object, or a zone/line rule firing.

    ``region_code`` is the camera's region when the event happened (for scope filters);
    ``box`` is ``[x1, y1, x2, y2]`` normalised to 0..1; ``end`` is null while the event lasts.
    ``clip_url`` links to the video API's playback of the camera for ``start..end``.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_camera_start", "camera_id", "start"),
                      Index("ix_events_region_start", "region_code", "start"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12))
    type: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str] = mapped_column(String(30), index=True)
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime | None]
    zone: Mapped[str | None] = mapped_column(String(100))
    direction: Mapped[str | None] = mapped_column(String(10))
    box: Mapped[list[Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    snapshot_path: Mapped[str | None] = mapped_column(String(500))
    clip_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalyticsSetting(Base):
    """Whether ``vigil serve`` analyses a camera continuously, and with which zones file (parsed, JSON).

    ``zones`` holds a zones document (``zones``, ``lines``, ``masks``) as accepted by
    :func:`vigil.analytics.zones.parse_zones`; null means no zones (object events only).
    """

    __tablename__ = "analytics_settings"

    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    zones: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QueueSample(Base):
    """The longest queue (metres) and the most queued vehicles of one lane zone in one minute.

    Written by the analytics pipeline for lane zones with a ``queue`` rule; ``region_code`` is the
    camera's region at the time (for scope filters), ``minute`` the start of the minute (UTC).
    """

    __tablename__ = "queue_samples"
    __table_args__ = (UniqueConstraint("camera_id", "zone", "minute", name="uq_queue_samples_camera_zone_minute"),
                      Index("ix_queue_samples_region_minute", "region_code", "minute"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12))
    zone: Mapped[str] = mapped_column(String(100))
    minute: Mapped[datetime] = mapped_column(index=True)
    max_m: Mapped[float] = mapped_column(Float)
    vehicles: Mapped[int] = mapped_column(Integer)
