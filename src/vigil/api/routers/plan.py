"""Coverage plans: run a plan on an uploaded or registered area, list plans, fetch their files, apply them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from vigil.access.guard import ensure_visible
from vigil.access.users import Principal
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.coverage import service as svc

router = APIRouter()

PlanRunner = Annotated[Principal, Depends(require("plan.run"))]
PlanApplier = Annotated[Principal, Depends(require("plan.apply"))]
OptFile = Annotated[UploadFile | None, File()]


@router.post("", status_code=201)
async def create_plan(p: PlanRunner, session: SessionDep, v: VigilDep,
                      region_code: Annotated[str, Form()], area: OptFile = None,
                      area_name: Annotated[str | None, Form(description="a file under <home>/areas")] = None,
                      roads: OptFile = None, boundary: OptFile = None, must_watch: OptFile = None,
                      name: Annotated[str, Form()] = "", level: Annotated[str, Form()] = "observe",
                      profile: Annotated[str, Form()] = "dori2015", target: Annotated[float | None, Form()] = None,
                      budget: Annotated[float | None, Form()] = None, k: Annotated[int, Form()] = 1,
                      spacing: Annotated[float, Form()] = 5.0, solver: Annotated[str, Form()] = "auto",
                      time_limit: Annotated[float, Form()] = 30.0, existing: Annotated[str, Form()] = "registry") -> dict:
    """Run a plan (buildings uploaded as ``area`` or named by ``area_name``) and record it."""
    ensure_visible(p, region_code, f"region {region_code}")  # before any upload is stored
    work = svc.plans_dir(v) / uuid.uuid4().hex
    files = {}
    for key, up in (("area", area), ("roads", roads), ("boundary", boundary), ("must_watch", must_watch)):
        if up is not None:
            files[key] = svc.save_upload(work / "input" / key, up.filename or f"{key}.geojson", await up.read())
    if "area" not in files:
        files["area"] = svc.registered_area(v, area_name or "")
    opts = svc.PlanOptions(region_code=region_code, name=name, level=level, profile=profile, target=target,
                           budget=budget, k=k, spacing=spacing, solver=solver, time_limit=time_limit, existing=existing)
    rec = await run_in_threadpool(svc.run_for_api, v, session, p, opts, work=work, **files)
    return svc.plan_json(rec, full=True)


@router.get("")
def list_plans(p: PlanRunner, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    """Plans in the caller's scope, newest first."""
    return {"items": [svc.plan_json(r) for r in svc.list_plans(session, p, limit=limit, offset=offset)]}


@router.get("/{plan_id}")
def get_plan(plan_id: int, p: PlanRunner, session: SessionDep) -> dict:
    """One plan with its full summary."""
    return svc.plan_json(svc.get_plan(session, p, plan_id), full=True)


@router.get("/{plan_id}/files/{name}")
def get_plan_file(plan_id: int, name: str, p: PlanRunner, session: SessionDep) -> FileResponse:
    """A report file: report.html, map.png, tradeoff.png, plan.geojson, targets.geojson or summary.json."""
    path = svc.plan_file(svc.get_plan(session, p, plan_id), name)
    return FileResponse(path, media_type=svc.PLAN_FILES[name])


@router.post("/{plan_id}/apply")
def apply_plan(plan_id: int, p: PlanApplier, session: SessionDep) -> dict:
    """Insert the plan's new cameras as planned cameras in the plan's region."""
    from vigil.coverage.apply import apply_plan as apply

    rec = svc.get_plan(session, p, plan_id)
    ids = apply(session, rec.out_dir, region_code=rec.region_code or "", actor=p.name)
    return {"plan": plan_id, "cameras": ids}
