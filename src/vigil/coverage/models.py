"""Coverage tables: plan jobs, stored plans, and the coverage measured per site over time (the coverage KPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow


class PlanRecord(Base):
    """A coverage plan run: where its outputs are and its summary."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    out_dir: Mapped[str] = mapped_column(String(500), default="")
    level: Mapped[str] = mapped_column(String(20), default="")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied_at: Mapped[datetime | None]
    # what re-measures the plan's sites when their cameras change (paths and options; never shown to users)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SiteCoverage(Base):
    """Coverage measured for one site (community, campus...): the coverage-rate KPI and its history.

    A plan writes one row per site it measured (``source`` "plan"); a change of the cameras around a
    site adds a row re-measured with the in-service cameras of then (``source`` "refresh").
    """

    __tablename__ = "site_coverage"
    __table_args__ = (Index("ix_site_coverage_region", "region_code", "measured_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    site_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20), default="")
    targets: Mapped[int] = mapped_column(Integer, default=0)
    coverage: Mapped[float] = mapped_column(Float)  # with in-service cameras only
    coverage_planned: Mapped[float | None] = mapped_column(Float)  # if the plan's new cameras were built
    measured_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(10), default="plan", server_default="plan")
    cameras: Mapped[int | None] = mapped_column(Integer)  # in-service cameras measured with (refresh rows)
    fingerprint: Mapped[str | None] = mapped_column(String(40))  # of the cameras around the site then


class PlanJob(Base):
    """A plan run queued for the job runner of ``vigil serve``, with its progress and outcome."""

    __tablename__ = "plan_jobs"
    __table_args__ = (Index("ix_plan_jobs_state", "state", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued running done failed cancelled
    stage: Mapped[str] = mapped_column(String(20), default="")
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    # every stage start and end so far: [{"stage", "event", "percent", "at"}]
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the options and the stored input files
    work_dir: Mapped[str] = mapped_column(String(500))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    runner: Mapped[str] = mapped_column(String(200), default="")
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
