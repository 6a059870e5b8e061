"""Coverage tables: stored plans and the coverage they measured per site (feeds the coverage KPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
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


class SiteCoverage(Base):
    """Coverage measured for one site (community, campus...) by a plan: the coverage-rate KPI."""

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
