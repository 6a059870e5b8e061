"""City plans: one budget across every site of a region (sites with a polygon and building data)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.guard import ensure_visible
from vigil.access.users import Principal
from vigil.api.contract import media
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.public.plans import JobPublic
from vigil.api.routers.plan import outside_problem  # the one problem document for it
from vigil.coverage import city_service as svc
from vigil.coverage import jobs
from vigil.coverage.area_check import check_city_area
from vigil.coverage.city import CityOptions
from vigil.coverage.city_report import CITY_FILES
from vigil.coverage.models import PlanRecord
from vigil.coverage.service import plan_file
from vigil.registry.extent import AreaOutsideRegion

router = APIRouter()

Planner = Annotated[Principal, Depends(require("plan.run"))]
MAX_POINT_S = 30.0


class CityPlanIn(BaseModel):
    """A city plan request: the region whose sites are planned, the budget and the building layer."""

    model_config = ConfigDict(extra="forbid")
    region_code: str = Field(min_length=2, max_length=12)
    budget: float = Field(ge=0, le=1e10, description="yuan")
    area_name: str = Field(min_length=1, max_length=200, description="building file or folder under <home>/areas")
    name: str = Field("", max_length=200)
    level: str = Field("observe", max_length=20)
    profile: str = Field("dori2015", max_length=20)
    spacing: float = Field(5.0, ge=0.5, le=100)
    steps: list[float] = Field([0.25, 0.5, 0.75, 0.9, 1.0], min_length=1, max_length=20)
    point_time_limit: float = Field(2.0, gt=0, le=MAX_POINT_S)


class CityPlanPublic(BaseModel):
    """A city plan: its figures, and with ``summary`` the packages, site table and curves."""

    id: int
    name: str
    region_code: str | None
    created_at: str
    created_by: str
    budget: float | None = None
    sites: int | None = None
    coverage_before: float | None = None
    coverage_after: float | None = None
    cameras_new: int | None = None
    cost_new: float | None = None
    gap: float | None = None
    status: str | None = None
    ratio_to_uniform: float | None = None
    files: dict[str, str]
    summary: dict[str, Any] | None = None


class CityPlanList(BaseModel):
    """City plans in the caller's scope, newest first."""

    items: list[CityPlanPublic]


def _public(rec: PlanRecord, *, full: bool = False) -> CityPlanPublic:
    s = rec.summary or {}
    keys = ("budget", "sites", "coverage_before", "coverage_after", "cameras_new", "cost_new", "gap", "status",
            "ratio_to_uniform")
    return CityPlanPublic(id=rec.id, name=rec.name, region_code=rec.region_code, created_at=rec.created_at.isoformat(),
                          created_by=rec.created_by, **{k: s.get(k) for k in keys},
                          files={n: f"/api/v1/city-plans/{rec.id}/files/{n}" for n in CITY_FILES},
                          summary=s if full else None)


@router.post("", status_code=202, response_model=JobPublic)
def create_city_plan(body: CityPlanIn, p: Planner, session: SessionDep, v: VigilDep, request: Request,
                     response: Response) -> dict | JSONResponse:
    """Queue a city plan: every site of the region with building data, one budget: 202 with the job at once.

    The job runs in the plan job queue; follow it at ``events_url`` (server-sent events) or ``url``; its city
    plan is at ``plan_url`` when done. A building layer with an area outside the region is refused at once,
    as for one plan: 422 ``area-outside-region`` (``vigil.registry.extent``), no job.
    """
    ensure_visible(p, body.region_code, f"region {body.region_code}")
    opts = CityOptions(budget=body.budget, name=body.name, level=body.level, profile=body.profile,
                       spacing=body.spacing, steps=tuple(body.steps), point_time_limit=body.point_time_limit)
    area = svc.city_area(v, body.area_name)
    try:
        check_city_area(session, body.region_code, area)
    except AreaOutsideRegion as exc:
        return outside_problem(exc, request.url.path)
    job = jobs.submit_city_job(session, p, body.region_code, opts, area,
                               work_dir=v.settings.home / "plans" / f"city-{uuid.uuid4().hex}")
    response.headers["Location"] = f"/api/v1/plans/jobs/{job.id}"
    return jobs.job_json(job)


@router.get("")
def list_city_plans(p: Planner, session: SessionDep,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> CityPlanList:
    """City plans in the caller's scope."""
    return CityPlanList(items=[_public(r) for r in svc.list_city_plans(session, p.scope, limit=limit)])


@router.get("/{city_plan_id}")
def get_city_plan(city_plan_id: int, p: Planner, session: SessionDep) -> CityPlanPublic:
    """One city plan with its packages, site table and curves."""
    return _public(svc.get_city_plan(session, p.scope, city_plan_id), full=True)


@router.get("/{city_plan_id}/files/{file_name}", response_class=FileResponse,
            responses=media(*sorted(set(CITY_FILES.values())), description="the report file"))
def get_city_plan_file(city_plan_id: int, file_name: str, p: Planner, session: SessionDep) -> FileResponse:
    """A report file: report.zh.html, report.en.pdf, map.zh.png, curve.en.png, packages.geojson, city.json..."""
    path = plan_file(svc.get_city_plan(session, p.scope, city_plan_id), file_name, files=CITY_FILES, what="city plan")
    return FileResponse(path, media_type=CITY_FILES[file_name])
