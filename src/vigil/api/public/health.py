"""Response models of the health routes (``/api/v1/health``): KPIs, status, alarms, work orders, teams."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vigil.api.public.common import IsoTime, Stamp

__all__ = ["AlarmPagePublic", "AlarmPublic", "CameraHealthPublic", "KpiPublic", "StatusSummaryPublic",
           "TeamListPublic", "TeamPublic", "TimelinePublic", "VerifyPublic", "WorkOrderPagePublic",
           "WorkOrderPublic"]

Rate = float | None


class _RegionKpi(BaseModel):
    region_code: str
    name: str
    level: int
    cameras: int = Field(description="in-service cameras")
    online_rate: Rate = Field(description="time-weighted share online over the period (0..1)")
    online_now: Rate
    integrity_rate: Rate
    coverage_rate: Rate
    sites: int
    repairs: int
    repair_median_h: float | None
    repair_p90_h: float | None
    active_alarms: int
    open_workorders: int
    breached_workorders: int


class _ContractorKpi(BaseModel):
    contractor: str
    repairs: int
    repair_median_h: float | None
    repair_p90_h: float | None


class KpiPublic(BaseModel):
    """The KPIs of a region and its children over a period (rates 0..1, times in hours)."""

    region_code: str
    start: IsoTime
    end: IsoTime
    period_hours: float
    regions: list[_RegionKpi]
    contractors: list[_ContractorKpi]


class _Bucket(BaseModel):
    start: IsoTime
    end: IsoTime
    cameras: int
    online_rate: Rate
    integrity_rate: Rate
    coverage_rate: Rate


class TimelinePublic(BaseModel):
    """Online, integrity and coverage rate per time bucket."""

    region_code: str
    buckets: list[_Bucket]


class _Down(BaseModel):
    camera_id: str
    name: str
    region_code: str
    reason: str
    since: IsoTime


class StatusSummaryPublic(BaseModel):
    """Camera states of a region: counts per state and a page of the cameras that are down."""

    region_code: str
    counts: dict[str, int] = Field(description="in-service cameras per state (online, down, unknown)")
    down: list[_Down]


class AlarmPublic(BaseModel):
    """An alarm: raised and cleared automatically."""

    id: int
    camera_id: str
    region_code: str
    kind: str
    severity: str
    state: str
    raised_at: IsoTime
    cleared_at: IsoTime | None
    acknowledged_by: str
    detail: dict[str, Any]


class AlarmPagePublic(BaseModel):
    """A page of alarms with the true total of all that match."""

    items: list[AlarmPublic]
    total: int


class _CameraFacts(BaseModel):
    name: str
    lon: float | None
    lat: float | None
    site_id: int | None
    site: str | None


class WorkOrderPublic(BaseModel):
    """A work order with its history (and, in the queue, the camera's name, place and site)."""

    id: int
    alarm_id: int | None
    camera_id: str
    region_code: str
    team_id: int | None
    state: str
    assigned_to: str
    breached: bool
    opened_at: IsoTime | None
    due_at: IsoTime | None
    resolved_at: IsoTime | None
    verified_at: IsoTime | None
    closed_at: IsoTime | None
    history: list[dict[str, Any]]
    camera: _CameraFacts | None = Field(None, description="in the work-order queue only")


class WorkOrderPagePublic(BaseModel):
    """A page of work orders, earliest deadline first, with the true total."""

    items: list[WorkOrderPublic]
    total: int


class VerifyPublic(BaseModel):
    """The re-probe's outcome and the order after it."""

    ok: bool
    detail: str
    order: WorkOrderPublic


class _StatusNow(BaseModel):
    state: str
    reason: str
    since: Stamp
    last_probe_at: Stamp | None
    last_ms: float | None
    faults: list[Any]
    faults_since: Stamp | None


class _Change(BaseModel):
    ts: Stamp
    state: str
    reason: str
    ms: float | None


class _Quality(BaseModel):
    ts: Stamp
    faults: list[Any]
    metrics: dict[str, Any]


class CameraHealthPublic(BaseModel):
    """One camera's status and history: state changes, picture-fault changes, alarms and work orders."""

    camera_id: str
    region_code: str
    lifecycle: str
    status: _StatusNow | None
    changes: list[_Change]
    quality: list[_Quality]
    alarms: list[AlarmPublic]
    workorders: list[WorkOrderPublic]


class TeamPublic(BaseModel):
    """A maintenance team for a region subtree."""

    id: int
    name: str
    contractor: str
    region_code: str
    sla_hours: float


class TeamListPublic(BaseModel):
    """Maintenance teams."""

    items: list[TeamPublic]
