"""Response models of the coverage-plan routes (``/api/v1/plans``, ``/api/v1/city-plans``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vigil.api.public.common import IsoTime

__all__ = ["AppliedPublic", "JobListPublic", "JobPublic", "PlanListPublic", "PlanPublic"]


class JobPublic(BaseModel):
    """A plan job: its state, stage and percent, the stages so far and, when done, its plan."""

    id: int
    kind: str = Field(description='"plan" (one area) or "city" (a city budget)')
    name: str
    region_code: str | None
    state: str = Field(description="queued, running, done, failed or cancelled")
    stage: str
    percent: float
    events: list[dict[str, Any]] = Field(description="each stage's start and end")
    created_by: str
    created_at: IsoTime
    started_at: IsoTime | None
    finished_at: IsoTime | None
    attempts: int
    cancel_requested: bool
    error: str | None
    plan_id: int | None
    level: str | None
    time_limit: float | None
    url: str
    events_url: str = Field(description="server-sent events of this job")
    plan_url: str | None


class JobListPublic(BaseModel):
    """Plan jobs, newest first."""

    items: list[JobPublic]


class PlanPublic(BaseModel):
    """A plan: its figures, file links and (one plan) the full summary."""

    id: int
    name: str
    region_code: str | None
    created_at: IsoTime
    created_by: str
    applied_at: IsoTime | None
    level: str | None = None
    ppm: float | None = None
    targets: int | None = None
    coverable: int | None = None
    coverage_before: float | None = None
    coverage_after: float | None = None
    cameras_existing: int | None = None
    cameras_new: int | None = None
    cost_new: float | None = None
    gap: float | None = None
    solver: str | None = None
    status: str | None = None
    files: dict[str, str]
    summary: dict[str, Any] | None = None


class PlanListPublic(BaseModel):
    """Plans, newest first."""

    items: list[PlanPublic]


class AppliedPublic(BaseModel):
    """The planned cameras a plan inserted."""

    plan: int
    cameras: list[str]
