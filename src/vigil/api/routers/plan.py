"""Coverage plans: queue plan jobs and follow them (server-sent events), list plans, fetch files, apply.

A plan runs as a job in ``vigil serve``'s job runner, never inside the request.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from vigil.access.guard import ensure_visible
from vigil.access.users import Principal
from vigil.api.contract import media
from vigil.api.deps import SessionDep, VigilDep, require, stopping
from vigil.api.problems import caller_lang, problem
from vigil.api.public.plans import AppliedPublic, JobListPublic, JobPublic, PlanListPublic, PlanPublic
from vigil.core.context import Vigil
from vigil.coverage import jobs
from vigil.coverage import service as svc
from vigil.coverage.area_check import check_plan_area
from vigil.coverage.models import PlanJob
from vigil.i18n import translate_line
from vigil.registry.extent import AreaOutsideRegion

router = APIRouter()

PlanRunner = Annotated[Principal, Depends(require("plan.run"))]
PlanApplier = Annotated[Principal, Depends(require("plan.apply"))]
OptFile = Annotated[UploadFile | None, File()]


@router.post("", status_code=202, response_model=JobPublic)
def create_plan(p: PlanRunner, session: SessionDep, v: VigilDep, request: Request, response: Response,
                      region_code: Annotated[str, Form()], area: OptFile = None,
                      area_name: Annotated[str | None, Form(description="a file under <home>/areas")] = None,
                      roads: OptFile = None, boundary: OptFile = None, must_watch: OptFile = None,
                      name: Annotated[str, Form()] = "", level: Annotated[str, Form()] = "observe",
                      profile: Annotated[str, Form()] = "dori2015", target: Annotated[float | None, Form()] = None,
                      budget: Annotated[float | None, Form()] = None, k: Annotated[int, Form()] = 1,
                      spacing: Annotated[float, Form()] = 5.0, solver: Annotated[str, Form()] = "auto",
                      eagle_eye: Annotated[bool, Form(description="rooftop and tower high points")] = False,
                      time_limit: Annotated[float, Form()] = 30.0,
                      existing: Annotated[str, Form()] = "registry") -> JobPublic | JSONResponse:
    """Queue a plan (buildings uploaded as ``area`` or named by ``area_name``): 202 with the job at once.

    Follow it at ``events_url`` (server-sent events) or ``url``; its plan is at ``plan_url`` when done.
    A map lying outside the region is refused at once: 422 ``area-outside-region`` (``vigil.registry.extent``).
    A sync handler (a worker thread): the area lookup and the job insert never stall the event loop.
    """
    ensure_visible(p, region_code, f"region {region_code}")  # before any upload is stored
    opts = svc.PlanOptions(region_code=region_code, name=name, level=level, profile=profile, target=target,
                           budget=budget, k=k, spacing=spacing, solver=solver, time_limit=time_limit, existing=existing,
                           eagle_eye=eagle_eye)
    svc.check_options(opts)
    work = svc.plans_dir(v) / uuid.uuid4().hex
    files = {"area": str(svc.registered_area(v, area_name or ""))} if area is None else {}
    for key, up in (("area", area), ("roads", roads), ("boundary", boundary), ("must_watch", must_watch)):
        if up is not None:
            files[key] = str(svc.save_upload(work / "input" / key, up.filename or f"{key}.geojson", up.file.read()))
    try:
        check_plan_area(session, region_code, files["area"])
    except AreaOutsideRegion as exc:
        shutil.rmtree(work, ignore_errors=True)
        return outside_problem(exc, request.url.path)
    job = jobs.submit_job(session, p, opts, files, work_dir=work)
    response.headers["Location"] = f"/api/v1/plans/jobs/{job.id}"
    return JobPublic.model_validate(jobs.job_json(job))


def outside_problem(exc: AreaOutsideRegion, instance: str) -> JSONResponse:
    """The problem document of a map outside its region, with the facts a console words in its own language."""
    return problem(422, "area-outside-region", "Area outside the region", str(exc), instance,
                   region_code=exc.region_code, region_name=exc.region_name, basis=exc.basis.value,
                   distance_km=round(exc.distance_m / 1000, 1), margin_km=round(exc.margin_m / 1000, 1))


def _said(job: dict, lang: str) -> dict:
    """A job's public shape with its stored error (English) in the caller's language."""
    return {**job, "error": translate_line(job["error"], lang)} if job.get("error") else job


@router.get("/jobs")
def list_jobs(p: PlanRunner, session: SessionDep, request: Request, active: bool = False,
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> JobListPublic:
    """Plan jobs in the caller's scope, newest first (``active``: queued and running only)."""
    lang = caller_lang(request)
    return JobListPublic.model_validate(
        {"items": [_said(jobs.job_json(j), lang) for j in jobs.list_jobs(session, p, active=active, limit=limit)]})


@router.get("/jobs/{job_id}")
def get_job(job_id: int, p: PlanRunner, session: SessionDep, request: Request) -> JobPublic:
    """One plan job: state, stage, percent, the stages so far and, when done, its plan."""
    return JobPublic.model_validate(_said(jobs.job_json(jobs.get_job(session, p, job_id)), caller_lang(request)))


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
            responses=media("text/event-stream", description="stage, progress and end events"))
def job_events(job_id: int, p: PlanRunner, session: SessionDep, v: VigilDep, request: Request) -> StreamingResponse:
    """Server-sent events: ``stage`` (each start and end), ``progress`` (percent) and ``end`` (the outcome)."""
    jobs.get_job(session, p, job_id)  # the guard: another region's job is 404 before anything streams
    return StreamingResponse(_stream(v, job_id, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/jobs/{job_id}/cancel", status_code=202)
def cancel_job(job_id: int, p: PlanRunner, session: SessionDep) -> JobPublic:
    """Cancel a queued job at once, or stop a running one (its solver process is ended)."""
    return JobPublic.model_validate(jobs.job_json(jobs.cancel_job(session, p, job_id)))


async def _stream(v: Vigil, job_id: int, request: Request) -> AsyncIterator[str]:
    sent, last, idle = 0, None, 0
    while not (stopping(request) or await request.is_disconnected()):  # a client reconnects when the server is back
        job = await run_in_threadpool(_read_job, v, job_id)
        for e in job["events"][sent:]:
            yield _sse("stage", e)
        sent = len(job["events"])
        now = {k: job[k] for k in ("state", "stage", "percent")}
        if now != last:
            yield _sse("progress", now)
            last, idle = now, 0
        if job["state"] in jobs.TERMINAL:
            said = _said(job, caller_lang(request))
            yield _sse("end", {k: said[k] for k in ("state", "plan_id", "plan_url", "error")})
            return
        idle += 1
        if idle % 30 == 0:
            yield ": still working\n\n"  # keeps proxies from closing a quiet stream
        await asyncio.sleep(0.5)


def _read_job(v: Vigil, job_id: int) -> dict:
    with v.db.session() as s:
        job = s.get(PlanJob, job_id)
        if job is None:  # deleted while followed: the stream ends
            return {"state": "failed", "stage": "", "percent": 0.0, "events": [], "plan_id": None,
                    "plan_url": None, "error": f"plan job {job_id} is gone"}
        return jobs.job_json(job)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("")
def list_plans(p: PlanRunner, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> PlanListPublic:
    """Plans in the caller's scope, newest first."""
    return PlanListPublic.model_validate(
        {"items": [svc.plan_json(r) for r in svc.list_plans(session, p, limit=limit, offset=offset)]})


@router.get("/{plan_id}")
def get_plan(plan_id: int, p: PlanRunner, session: SessionDep) -> PlanPublic:
    """One plan with its full summary."""
    return PlanPublic.model_validate(svc.plan_json(svc.get_plan(session, p, plan_id), full=True))


@router.get("/{plan_id}/files/{name}", response_class=FileResponse,
            responses=media(*sorted(set(svc.PLAN_FILES.values())), description="the report file"))
def get_plan_file(plan_id: int, name: str, p: PlanRunner, session: SessionDep) -> FileResponse:
    """A report file: report.html, map.png, tradeoff.png, plan.geojson, targets.geojson or summary.json."""
    path = svc.plan_file(svc.get_plan(session, p, plan_id), name)
    return FileResponse(path, media_type=svc.PLAN_FILES[name])


@router.post("/{plan_id}/apply")
def apply_plan(plan_id: int, p: PlanApplier, session: SessionDep) -> AppliedPublic:
    """Insert the plan's new cameras as planned cameras in the plan's region."""
    from vigil.coverage.apply import apply_plan as apply

    rec = svc.get_plan(session, p, plan_id)
    ids = apply(session, rec.out_dir, region_code=rec.region_code or "", actor=p.name)
    return AppliedPublic(plan=plan_id, cameras=ids)
