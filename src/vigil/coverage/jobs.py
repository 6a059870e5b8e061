"""Plans as jobs: queue a plan, follow its stages, cancel it; the queue is fair and survives restarts.

A job is a row of ``plan_jobs``. :func:`submit_job` stores it ``queued``; the runner of ``vigil serve``
(:class:`vigil.coverage.runner.PlanJobService`) claims jobs with :func:`claim_next`, which takes
the submitter served least recently first (round-robin per user, so one user's ten jobs do not starve
another's), and writes each stage and percent with :func:`record_progress`. A job whose runner died
(the server was killed) is put back in the queue by :func:`requeue_orphans` when a runner starts
again, or when its heartbeat is stale. Every read and write of a job by a user goes through the guard:
a job is visible in its region's subtree only (others answer 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import get_in_scope
from vigil.access.users import Principal
from vigil.core.errors import ConflictError
from vigil.core.models import Region, utcnow
from vigil.core.telemetry import telemetry
from vigil.coverage.city import CityOptions
from vigil.coverage.models import PlanJob
from vigil.coverage.service import PlanOptions, check_options

__all__ = ["ACTIVE", "TERMINAL", "cancel_job", "claim_next", "ended_without_plan", "finish_job", "get_job",
           "job_json", "list_jobs", "pick_next", "record_progress", "requeue_orphans", "submit_city_job", "submit_job"]

ACTIVE = ("queued", "running")
TERMINAL = ("done", "failed", "cancelled")
#: a running job whose runner has not written for this long is taken to be orphaned
STALE_AFTER = timedelta(seconds=30)


def submit_job(session: Session, p: Principal, opts: PlanOptions, files: dict[str, str], *,
               work_dir: Path) -> PlanJob:
    """Queue a plan of ``files`` (stored inputs: ``area`` and optional ``roads``...) in ``opts.region_code``."""
    get_in_scope(session, Region, opts.region_code, p, what=f"region {opts.region_code}")
    check_options(opts)
    job = PlanJob(region_code=opts.region_code, name=opts.name[:200], created_by=p.name, state="queued",
                  stage="", percent=0.0, events=[], request={"options": asdict(opts), "files": files},
                  work_dir=str(work_dir), cancel_requested=False, runner="", attempts=0)
    session.add(job)
    session.flush()
    record(session, p.name, "plan.submit", f"plan_job:{job.id}", region=opts.region_code, name=job.name)
    return job


def submit_city_job(session: Session, p: Principal, region_code: str, opts: CityOptions, buildings: Path, *,
                    work_dir: Path) -> PlanJob:
    """Queue a city plan (``request["kind"] == "city"``) of ``region_code``'s sites over the ``buildings`` layer."""
    get_in_scope(session, Region, region_code, p, what=f"region {region_code}")
    opts.check()
    name = opts.name or f"city plan {region_code}"
    vals = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(opts).items()}
    job = PlanJob(region_code=region_code, name=name[:200], created_by=p.name, state="queued", stage="",
                  percent=0.0, events=[], request={"kind": "city", "options": vals, "files": {"buildings": str(buildings)}},
                  work_dir=str(work_dir), cancel_requested=False, runner="", attempts=0)
    session.add(job)
    session.flush()
    record(session, p.name, "plan.submit", f"plan_job:{job.id}", region=region_code, name=job.name, kind="city")
    return job


def get_job(session: Session, p: Principal, job_id: int) -> PlanJob:
    """One job; jobs outside the caller's region scope are reported as not found."""
    return get_in_scope(session, PlanJob, job_id, p, what=f"plan job {job_id}")


def list_jobs(session: Session, p: Principal, *, active: bool = False, limit: int = 100) -> list[PlanJob]:
    """Jobs in the caller's scope, newest first (``active``: queued and running only)."""
    stmt = select(PlanJob).where(p.scope.clause(PlanJob.region_code))
    if active:
        stmt = stmt.where(PlanJob.state.in_(ACTIVE))
    return list(session.scalars(stmt.order_by(PlanJob.id.desc()).limit(limit)))


def cancel_job(session: Session, p: Principal, job_id: int) -> PlanJob:
    """Cancel a job: a queued one at once, a running one by its runner within a second or so."""
    job = get_job(session, p, job_id)
    if job.state in TERMINAL:
        raise ConflictError(f"plan job {job_id} is already {job.state}")
    if job.state == "queued":
        _end(job, "cancelled", error="cancelled before it started")
    else:
        job.cancel_requested = True
    record(session, p.name, "plan.cancel", f"plan_job:{job.id}", region=job.region_code)
    return job


def job_json(job: PlanJob) -> dict[str, Any]:
    """Public shape of a job (the stored input paths are not shown)."""
    opts = job.request.get("options", {}) if job.request else {}
    kind = (job.request or {}).get("kind", "plan")
    plans = "/api/v1/city-plans" if kind == "city" else "/api/v1/plans"
    return {"id": job.id, "kind": kind, "name": job.name, "region_code": job.region_code, "state": job.state,
            "stage": job.stage, "percent": job.percent, "events": job.events or [],
            "created_by": job.created_by, "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "attempts": job.attempts, "cancel_requested": job.cancel_requested, "error": job.error,
            "plan_id": job.plan_id, "level": opts.get("level"),
            "time_limit": opts.get("time_limit", opts.get("point_time_limit")),
            "url": f"/api/v1/plans/jobs/{job.id}", "events_url": f"/api/v1/plans/jobs/{job.id}/events",
            "plan_url": f"{plans}/{job.plan_id}" if job.plan_id else None}


# ---------------------------------------------------------------------------- the runner's side


def pick_next(queued: Sequence[tuple[int, str]], last_served: dict[str, datetime | None]) -> int | None:
    """The job to run next: round-robin over submitters.

    ``queued`` are ``(job id, submitter)`` oldest first; ``last_served`` the latest start of each
    submitter's jobs (``None``: never served). The submitter served least recently goes first, and
    of their jobs the oldest.
    """
    if not queued:
        return None
    floor = datetime.min.replace(tzinfo=utcnow().tzinfo)
    order = {who: i for i, (_, who) in reversed(list(enumerate(queued)))}  # first queued position per user
    who = min(order, key=lambda u: (last_served.get(u) or floor, order[u]))
    return next(jid for jid, u in queued if u == who)


def claim_next(session: Session, runner: str) -> PlanJob | None:
    """Take the next queued job fairly for ``runner`` (atomic: two runners never take the same job)."""
    queued = session.execute(select(PlanJob.id, PlanJob.created_by).where(PlanJob.state == "queued")
                             .order_by(PlanJob.created_at, PlanJob.id).limit(500)).tuples().all()
    if not queued:
        return None
    users = {u for _, u in queued}
    served = dict(session.execute(select(PlanJob.created_by, func.max(PlanJob.started_at))
                                  .where(PlanJob.created_by.in_(users)).group_by(PlanJob.created_by)).tuples().all())
    jid = pick_next(queued, served)
    now = utcnow()
    won = session.execute(update(PlanJob).where(PlanJob.id == jid, PlanJob.state == "queued").values(
        state="running", runner=runner, started_at=now, heartbeat_at=now, attempts=PlanJob.attempts + 1,
        stage="", percent=0.0).returning(PlanJob.id)).first()
    if won is None:  # another runner took it first
        return None
    job = session.get(PlanJob, jid)
    session.refresh(job)
    return job


def record_progress(session: Session, job_id: int, *, stage: str | None = None, event: str | None = None,
                    percent: float | None = None) -> bool:
    """Write a stage event and/or the percent (and the heartbeat); return True if cancel was requested."""
    job = session.get(PlanJob, job_id)
    if job is None or job.state != "running":
        return True
    job.heartbeat_at = utcnow()
    if percent is not None:
        job.percent = percent
    if stage is not None and event is not None:
        job.stage = stage
        job.events = [*(job.events or []), {"stage": stage, "event": event, "percent": job.percent,
                                            "at": job.heartbeat_at.isoformat()}]
    return bool(job.cancel_requested)


def finish_job(session: Session, job_id: int, state: str, *, plan_id: int | None = None,
               error: str | None = None) -> None:
    """End a running job as done, failed or cancelled."""
    job = session.get(PlanJob, job_id)
    if job is not None and job.state == "running":
        if state == "failed":  # vigil_job_errors_total{kind="plan"|"city"}
            telemetry().job_failed((job.request or {}).get("kind", "plan"))
        _end(job, state, error=error)
        job.plan_id = plan_id
        if state == "done":
            job.percent = 100.0


def requeue_orphans(session: Session, *, runner: str | None = None,
                    stale_after: timedelta = STALE_AFTER) -> list[int]:
    """Put orphaned running jobs back in the queue (a cancel asked of one ends it instead).

    Orphans are the jobs with a heartbeat older than ``stale_after`` and, when a runner starts, the
    jobs ``runner`` held in a previous life (the server was killed).
    """
    cutoff = utcnow() - stale_after
    orphan = [PlanJob.heartbeat_at < cutoff, *([PlanJob.runner == runner] if runner else [])]
    rows = session.scalars(select(PlanJob).where(PlanJob.state == "running", or_(*orphan))).all()
    for job in rows:
        if job.cancel_requested:
            _end(job, "cancelled", error="cancelled while its server was down")
            continue
        job.state, job.runner, job.stage, job.percent = "queued", "", "", 0.0
        job.events = [*(job.events or []), {"stage": "queue", "event": "requeued", "percent": 0.0,
                                            "at": utcnow().isoformat()}]
    return [j.id for j in rows]


def ended_without_plan(session: Session, *, since: datetime | None = None) -> list[str]:
    """The work folders of jobs that ended failed or cancelled (since ``since``): nothing in them is needed."""
    stmt = select(PlanJob.work_dir).where(PlanJob.state.in_(("failed", "cancelled")))
    if since is not None:
        stmt = stmt.where(PlanJob.finished_at >= since)
    return list(session.scalars(stmt))


def _end(job: PlanJob, state: str, *, error: str | None) -> None:
    job.state, job.finished_at, job.error = state, utcnow(), error
