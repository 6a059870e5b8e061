"""Health API: KPIs rolled up per region and period, camera status and history, alarms, work orders.

Every route needs a token and works inside the caller's region scope: a region,
camera, alarm or work order outside it answers 404. The JSON of ``/kpi`` and
``/kpi/timeline`` is what the console dashboard draws.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.background import BackgroundTask

from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.access.users import Principal, user_locale
from vigil.api.contract import media
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.public.health import (
    AlarmPagePublic,
    AlarmPublic,
    CameraHealthPublic,
    KpiPublic,
    StatusSummaryPublic,
    TeamListPublic,
    TeamPublic,
    TimelinePublic,
    VerifyPublic,
    WorkOrderPagePublic,
    WorkOrderPublic,
)
from vigil.core.errors import InputError
from vigil.core.models import Camera
from vigil.health import workorders as wos
from vigil.health.alarms import acknowledge, alarm_json, list_alarms, page_alarms
from vigil.health.kpi import compute_kpis, kpi_timeline
from vigil.health.models import Alarm, CameraStatus, MaintenanceTeam, QualityChange, StatusChange, WorkOrder
from vigil.health.workorders import order_json
from vigil.registry.streams import in_service_population

router = APIRouter()

KpiRead = Annotated[Principal, Depends(require("kpi.read"))]
HealthRead = Annotated[Principal, Depends(require("health.read"))]
HealthWrite = Annotated[Principal, Depends(require("health.write"))]
WoUpdate = Annotated[Principal, Depends(require("workorder.update"))]
AlarmAck = Annotated[Principal, Depends(require("alarm.ack"))]


class AssignIn(BaseModel):
    """Who will do the work."""

    model_config = ConfigDict(extra="forbid")
    technician: str = Field(min_length=1, max_length=100)


class NoteIn(BaseModel):
    """An optional note on a transition."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=1000)


class TeamIn(BaseModel):
    """A maintenance team for a region subtree."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    region_code: str
    contractor: str = Field(default="", max_length=100)
    sla_hours: float = Field(default=24.0, gt=0, le=2160)


def _region(p: Principal, region: str | None) -> str:
    """The requested region (default: the caller's widest scope), or 404 outside the scope."""
    code = region or min(p.scope.roots(), key=lambda s: (len(s), s))
    ensure_visible(p, code, f"region {code}")
    return code


def _scope(p: Principal, region: str | None) -> Scope:
    """The caller's scope, or only the subtree of ``region`` (404 outside the scope)."""
    return p.scope.narrowed(_region(p, region)) if region else p.scope


#: days a report or KPI period may concern (a period reaches back from its end: never before year 1)
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"time {text!r} is not ISO 8601") from exc
    if not FIRST_DAY.year <= t.year <= LAST_DAY.year:
        raise InputError(f"end: time {text!r} is out of range ({FIRST_DAY.year}..{LAST_DAY.year})")
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _order(session: SessionDep, p: Principal, order_id: int) -> WorkOrder:
    return get_in_scope(session, WorkOrder, order_id, p, what=f"work order {order_id}")


@router.get("/kpi", response_model=KpiPublic)
def kpis(p: KpiRead, session: SessionDep, region: str | None = None, period: str = "7d", end: str | None = None,
         depth: Annotated[int, Query(ge=0, le=3)] = 1, coverage_level: str | None = None) -> dict[str, Any]:
    """Online (time-weighted and now), integrity, coverage and repair time for a region and its children."""
    return compute_kpis(session, _region(p, region), period=period, end=_time(end), depth=depth,
                        coverage_level=coverage_level).to_dict()


@router.get("/kpi/timeline", response_model=TimelinePublic)
def timeline(p: KpiRead, session: SessionDep, region: str | None = None, period: str = "7d", step: str = "1d",
             end: str | None = None) -> dict[str, Any]:
    """Online and integrity rate per bucket (for trend charts)."""
    code = _region(p, region)
    return {"region_code": code, "buckets": kpi_timeline(session, code, period=period, step=step, end=_time(end))}


@router.get("/status", response_model=StatusSummaryPublic)
def status_summary(p: HealthRead, session: SessionDep, region: str | None = None,
                   limit: Annotated[int, Query(ge=0, le=5000)] = 200,
                   offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Camera states in a region: counts (``counts.down`` is the true total), and a page of the cameras down."""
    code = _region(p, region)
    scope = in_service_population(code)
    counts = dict(session.execute(select(func.coalesce(CameraStatus.state, "unknown"), func.count())
                                  .select_from(Camera).outerjoin(CameraStatus, CameraStatus.camera_id == Camera.id)
                                  .where(scope).group_by(CameraStatus.state)).tuples().all())
    rows = session.execute(select(Camera.id, Camera.name, Camera.region_code, CameraStatus)
                           .join(CameraStatus, CameraStatus.camera_id == Camera.id)
                           .where(scope, CameraStatus.state == "down").order_by(CameraStatus.since, Camera.id)
                           .limit(limit).offset(offset)).all()
    down = [{"camera_id": cid, "name": name, "region_code": rc, "reason": st.reason, "since": st.since.isoformat()}
            for cid, name, rc, st in rows]
    return {"region_code": code, "counts": counts, "down": down}


@router.get("/cameras/{camera_id}", response_model=CameraHealthPublic)
def camera_health(camera_id: str, p: HealthRead, session: SessionDep,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """One camera's status and its history: state changes, picture-fault changes, alarms, work orders."""
    cam = get_in_scope(session, Camera, camera_id, p, what=f"camera {camera_id}")
    st = session.get(CameraStatus, camera_id)
    changes = session.scalars(select(StatusChange).where(StatusChange.camera_id == camera_id)
                              .order_by(StatusChange.ts.desc()).limit(limit))
    quality = session.scalars(select(QualityChange).where(QualityChange.camera_id == camera_id)
                              .order_by(QualityChange.ts.desc()).limit(limit))
    orders = session.scalars(select(WorkOrder).where(WorkOrder.camera_id == camera_id)
                             .order_by(WorkOrder.id.desc()).limit(limit))
    return {"camera_id": camera_id, "region_code": cam.region_code, "lifecycle": cam.lifecycle,
            "status": None if st is None else {"state": st.state, "reason": st.reason, "since": st.since,
                                               "last_probe_at": st.last_probe_at, "last_ms": st.last_ms,
                                               "faults": st.faults, "faults_since": st.faults_since},
            "changes": [{"ts": c.ts, "state": c.state, "reason": c.reason, "ms": c.ms} for c in changes],
            "quality": [{"ts": q.ts, "faults": q.faults, "metrics": q.metrics} for q in quality],
            "alarms": [alarm_json(a) for a in list_alarms(session, scope=p.scope, state=None,
                                                          camera_id=camera_id, limit=limit)],
            "workorders": [order_json(w) for w in orders]}


@router.get("/alarms", response_model=AlarmPagePublic)
def alarms(p: HealthRead, session: SessionDep, region: str | None = None, state: str = "active",
           camera: str | None = None, kind: str | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
           offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Alarms in scope, newest first (``state=all`` for every one), with the true ``total`` of all that match."""
    rows, total = page_alarms(session, scope=_scope(p, region), state=None if state == "all" else state,
                              camera_id=camera, kind=kind, limit=limit, offset=offset)
    return {"items": [alarm_json(a) for a in rows], "total": total}


@router.post("/alarms/{alarm_id}/ack", response_model=AlarmPublic)
def ack_alarm(alarm_id: int, p: AlarmAck, session: SessionDep) -> dict[str, Any]:
    """Acknowledge an alarm."""
    get_in_scope(session, Alarm, alarm_id, p, what=f"alarm {alarm_id}")
    return alarm_json(acknowledge(session, alarm_id, actor=p.name))


@router.get("/workorders", response_model=WorkOrderPagePublic)
def workorders(p: HealthRead, session: SessionDep, region: str | None = None, state: str = "open",
               team: int | None = None, breached: bool | None = None, kind: str | None = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Work orders in scope, earliest deadline first, with the true ``total`` of all that match.

    ``state=open`` is every unclosed one, ``all`` every one; ``breached`` filters on the SLA, ``kind`` on the
    alarm (fault) kind that opened the order.
    """
    rows, total = wos.page_orders(session, scope=_scope(p, region), state=None if state == "all" else state,
                                  team_id=team, breached=breached, kind=kind, limit=limit, offset=offset)
    return {"items": wos.order_cards(session, rows), "total": total}


@router.get("/workorders/{order_id}", response_model=WorkOrderPublic)
def workorder(order_id: int, p: HealthRead, session: SessionDep) -> dict[str, Any]:
    """One work order with its full history."""
    return order_json(_order(session, p, order_id))


@router.post("/workorders/{order_id}/assign", response_model=WorkOrderPublic)
def wo_assign(order_id: int, body: AssignIn, p: WoUpdate, session: SessionDep) -> dict[str, Any]:
    """Name the technician."""
    _order(session, p, order_id)
    return order_json(wos.assign(session, order_id, body.technician, actor=p.name))


@router.post("/workorders/{order_id}/start", response_model=WorkOrderPublic)
def wo_start(order_id: int, p: WoUpdate, session: SessionDep) -> dict[str, Any]:
    """Work has started."""
    _order(session, p, order_id)
    return order_json(wos.start(session, order_id, actor=p.name))


@router.post("/workorders/{order_id}/resolve", response_model=WorkOrderPublic)
def wo_resolve(order_id: int, body: NoteIn, p: WoUpdate, session: SessionDep) -> dict[str, Any]:
    """The technician says it is fixed; verification by re-probe follows."""
    _order(session, p, order_id)
    return order_json(wos.resolve(session, order_id, actor=p.name, note=body.note))


@router.post("/workorders/{order_id}/verify", response_model=VerifyPublic)
def wo_verify(order_id: int, p: WoUpdate, v: VigilDep) -> dict[str, Any]:
    """Re-probe the camera now: close the order if it recovered, else reopen it.

    A sync handler: the re-probe and its database reads run in this worker thread, on a loop of their
    own, so a slow probe or query never stalls the server's event loop.
    """
    with v.db.session() as s:
        _order(s, p, order_id)
    res = asyncio.run(wos.verify(v, order_id, actor=p.name))
    with v.db.session() as s:
        return {"ok": res.ok, "detail": res.detail, "order": order_json(wos.get_order(s, order_id))}


@router.get("/teams", response_model=TeamListPublic)
def teams(p: HealthRead, session: SessionDep) -> dict[str, Any]:
    """Maintenance teams whose subtree overlaps the caller's scope."""
    rows = session.scalars(select(MaintenanceTeam).where(p.scope.clause_or_ancestor(MaintenanceTeam.region_code))
                           .order_by(MaintenanceTeam.region_code, MaintenanceTeam.name))
    return {"items": [{"id": t.id, "name": t.name, "contractor": t.contractor, "region_code": t.region_code,
                       "sla_hours": t.sla_hours} for t in rows]}


@router.post("/teams", status_code=201, response_model=TeamPublic)
def add_team(body: TeamIn, p: HealthWrite, session: SessionDep) -> dict[str, Any]:
    """Create a team for a region subtree inside the caller's scope."""
    ensure_visible(p, body.region_code, f"region {body.region_code}")
    t = wos.add_team(session, body.name, body.region_code, contractor=body.contractor, sla_hours=body.sla_hours,
                     actor=p.name)
    return {"id": t.id, "name": t.name, "contractor": t.contractor, "region_code": t.region_code,
            "sla_hours": t.sla_hours}


@router.get("/report/daily", response_model=None, response_class=HTMLResponse,
            responses=media("text/html", "application/pdf", description="the daily report"))
def daily(p: KpiRead, v: VigilDep, region: str,
          day: Annotated[date, Query(alias="date", ge=FIRST_DAY, le=LAST_DAY, description="the day, 1970-01-01 .. "
                                     "9998-12-31")],
          format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
          lang: Annotated[str | None, Query(pattern="^(en|zh-CN)$", description="headings' language (default: "
                                            "the caller's console language)")] = None) -> HTMLResponse | FileResponse:
    """The daily report of a town as HTML or PDF."""
    from vigil.health.report import daily_report

    code = _region(p, region)
    if lang is None:  # a short session of its own: the report opens its own ones (SQLite has one writer)
        with v.db.session() as s:
            lang = user_locale(s, p.user_id) or "en"
    tmp = Path(tempfile.mkdtemp(prefix="vigil-report-"))
    files = daily_report(v, code, day, tmp, lang=lang)
    if format == "html":
        html = files.html.read_text(encoding="utf-8")
        _cleanup(tmp)
        return HTMLResponse(html)
    return FileResponse(files.pdf, media_type="application/pdf", filename=files.pdf.name,
                        background=BackgroundTask(_cleanup, tmp))


def _cleanup(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)

