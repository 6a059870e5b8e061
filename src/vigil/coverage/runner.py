"""The plan job runner of ``vigil serve``: worker threads that run each job in its own process.

A worker thread claims the next job fairly (:func:`vigil.coverage.jobs.claim_next`), reads the
registry's in-service cameras for it, and starts :func:`_child` in a fresh (spawned) process that runs
:func:`vigil.coverage.plan.run_plan`. The child sends each stage over a pipe; the thread writes the
stage and the percent (:class:`~vigil.coverage.progress.StageProgress`) and a heartbeat, checks for a
cancel every half second, and terminates the child when one was asked: a long solve stops at once.
The child exits by itself when its server dies. At start the runner puts the jobs it held in a
previous life back in the queue, and it takes over jobs whose runner's heartbeat went stale. A job's
work folder is cleaned when it ends (:func:`clean_work`): a done plan keeps what it needs, the rest goes.

A city plan job (``request["kind"] == "city"``, :func:`run_city_job`) reads the region's sites here, then
runs :func:`vigil.coverage.city.run_city` in its child the same way; its ``progress(stage, fraction)``
becomes the stages and percent (:class:`~vigil.coverage.progress.CityStageProgress`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.errors import VigilError
from vigil.core.models import utcnow
from vigil.coverage import jobs
from vigil.coverage.models import PlanJob
from vigil.coverage.progress import CityStageProgress, StageProgress
from vigil.coverage.service import PlanOptions, plan_request, plans_dir, remeasure_files, request_inputs

__all__ = ["PlanJobService", "clean_work", "run_city_job", "run_job"]

log = logging.getLogger("vigil.coverage.runner")
_TICK_S = 0.5
_FAILED = "the plan could not be computed; the server log has the details"


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(3)  # the server is gone: its job will be re-queued, this run is wasted work
        time.sleep(1.0)


def _child(inputs: dict[str, Any], out_dir: str, existing: list[Any], conn: Connection, parent: int) -> None:
    """Run one plan in this (spawned) process and send its stages, then its summary or error."""
    from vigil.coverage.plan import run_plan
    from vigil.coverage.service import request_from_inputs

    _run_child(conn, parent, "plan", lambda: run_plan(
        request_from_inputs(inputs), out_dir, existing=existing,
        progress=lambda stage, event: conn.send(("stage", stage, event))).summary)


def _run_child(conn: Connection, parent: int, what: str, work: Callable[[], dict[str, Any]]) -> None:
    """In a job's child: watch the server, run ``work`` and send its summary, or one line of error."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        conn.send(("done", work()))
    except VigilError as exc:
        conn.send(("error", str(exc)))
    except Exception:  # the traceback goes to the server log, the user gets one line
        log.exception("%s job failed", what)
        conn.send(("error", _FAILED))
    finally:
        conn.close()


def _existing(v: Vigil, job: PlanJob, area: Path) -> list[Any]:
    from vigil.coverage.apply import registry_cameras

    if job.request["options"].get("existing", "registry") != "registry":
        return []
    with v.db.session() as s:  # cameras of the plan's region only: every reader of the plan may see them
        return registry_cameras(s, area, scope=Scope.of([job.region_code]))


def _write(v: Vigil, job_id: int, **kw: Any) -> bool:
    with v.db.session() as s:
        return jobs.record_progress(s, job_id, **kw)


def run_job(v: Vigil, job: PlanJob, *, stop: threading.Event | None = None) -> str:
    """Run a claimed job to its end; return its final state (``stop`` ends it early, still queued)."""
    from vigil.coverage.apply import record_plan

    if job.request.get("kind") == "city":
        return run_city_job(v, job, stop=stop)
    try:
        opts = PlanOptions(**job.request["options"])
        req = plan_request(opts, job.request["files"])
    except (KeyError, TypeError, ValueError):  # written by another version, or by hand
        log.exception("plan job %s has an unreadable request", job.id)
        return _end(v, job.id, "failed", error="the job's request is incomplete; submit the plan again")
    out = Path(job.work_dir) / "out"
    try:
        existing = _existing(v, job, req.area)
    except VigilError as exc:
        return _end(v, job.id, "failed", error=str(exc))
    summary = _in_child(v, job.id, _child, (request_inputs(req), str(out), existing), f"vigil-plan-{job.id}",
                        StageProgress(time_limit=req.time_limit), stop)
    if isinstance(summary, str):
        return summary
    inputs = request_inputs(req)
    with v.db.session() as s:
        rec = record_plan(s, summary, out, region_code=job.region_code, created_by=job.created_by,
                          name=opts.name, inputs=inputs)
        jobs.finish_job(s, job.id, "done", plan_id=rec.id)
    clean_work(v, job.work_dir, keep=[out, *remeasure_files(inputs)])  # the report, and what re-measures it
    return "done"


def _in_child(v: Vigil, job_id: int, target: Callable[..., None], args: tuple[Any, ...], name: str,
              track: StageProgress | CityStageProgress, stop: threading.Event | None) -> dict[str, Any] | str:
    """Run ``target(*args, conn, parent)`` in a spawned process and follow it: its summary, or the job's end state."""
    ctx = multiprocessing.get_context("spawn")  # never fork a threaded server
    mine, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, theirs, os.getpid()), daemon=True, name=name)
    proc.start()
    theirs.close()
    outcome = _supervise(v, job_id, proc, mine, track, stop)
    if isinstance(outcome, str):
        return outcome
    if outcome[0] == "error":
        return _end(v, job_id, "failed", error=outcome[1])
    return outcome[1]


def _supervise(v: Vigil, job_id: int, proc: Any, mine: Connection, track: StageProgress | CityStageProgress,
               stop: threading.Event | None) -> tuple[Any, ...] | str:
    """Follow a job's child: write its stages, percent and heartbeat; return its outcome or the job's end state."""
    outcome: tuple[Any, ...] | None = None
    try:
        while outcome is None:
            if stop is not None and stop.is_set():
                return "queued"
            msg = _read(mine)
            if msg is not None and msg[0] == "stage":
                cancel = _write(v, job_id, stage=msg[1], event=msg[2], percent=track.update(msg[1], msg[2]))
            elif msg is not None and msg[0] == "part" and isinstance(track, CityStageProgress):
                cancel = _write(v, job_id, percent=track.part(msg[1], msg[2]))
            elif msg is not None:
                outcome = msg
                break
            else:
                cancel = _write(v, job_id, percent=track.percent())
            if cancel:
                return _end(v, job_id, "cancelled", error="cancelled")
            if msg is None and not proc.is_alive() and not mine.poll():
                outcome = ("error", _FAILED)
    finally:
        _kill(proc)
        mine.close()
    return outcome


def _city_child(sites: list[Any], opts: Any, out_dir: str, skipped: list[Any], conn: Connection,
                parent: int) -> None:
    """Run one city plan in this (spawned) process: each stage's start, share done and end, then its summary."""
    from vigil.coverage.city import run_city

    def progress(stage: str, fraction: float) -> None:
        if fraction <= 0:
            conn.send(("stage", stage, "start"))
        elif fraction >= 1:
            conn.send(("stage", stage, "done"))
        else:
            conn.send(("part", stage, fraction))

    _run_child(conn, parent, "city plan", lambda: run_city(sites, opts, out_dir, progress=progress,
                                                           skipped=skipped).summary)


def run_city_job(v: Vigil, job: PlanJob, *, stop: threading.Event | None = None) -> str:
    """Run a claimed city plan job (``request["kind"] == "city"``): read the region's sites, price and allocate."""
    from vigil.coverage.apply import record_plan
    from vigil.coverage.city import CityOptions
    from vigil.coverage.city_report import CITY_FILES
    from vigil.coverage.city_sites import sites_from_registry

    try:
        vals = dict(job.request["options"])
        opts = CityOptions(**{**vals, "steps": tuple(vals["steps"])})
        buildings = Path(job.request["files"]["buildings"])
    except (KeyError, TypeError, ValueError):  # written by another version, or by hand
        log.exception("city plan job %s has an unreadable request", job.id)
        return _end(v, job.id, "failed", error="the job's request is incomplete; submit the city plan again")
    work = Path(job.work_dir)
    _write(v, job.id, stage="sites", event="start", percent=0.0)
    try:
        with v.db.session() as s:  # the region's sites and their in-service cameras, as when it was submitted
            sites, skipped = sites_from_registry(s, scope=Scope.of([job.region_code]), region_code=job.region_code,
                                                 buildings=buildings, work=work / "input")
    except VigilError as exc:
        return _end(v, job.id, "failed", error=str(exc))
    track = CityStageProgress()
    if _write(v, job.id, stage="sites", event="done", percent=track.update("sites", "done")):
        return _end(v, job.id, "cancelled", error="cancelled")
    summary = _in_child(v, job.id, _city_child, (sites, opts, str(work), skipped), f"vigil-city-plan-{job.id}",
                        track, stop)
    if isinstance(summary, str):
        return summary
    with v.db.session() as s:
        rec = record_plan(s, summary, work, region_code=job.region_code, created_by=job.created_by,
                          name=opts.name or f"city plan {job.region_code}")
        jobs.finish_job(s, job.id, "done", plan_id=rec.id)
    clean_work(v, work, keep=[work / n for n in CITY_FILES])  # the report; the sites' inputs and studies go
    return "done"


def _read(conn: Connection) -> tuple[Any, ...] | None:
    try:
        return conn.recv() if conn.poll(_TICK_S) else None
    except (EOFError, OSError):
        return None


def _kill(proc: Any) -> None:
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    proc.join(1)


def clean_work(v: Vigil, work_dir: str | Path, *, keep: Iterable[Path] = ()) -> None:
    """Remove a finished job's work folder but ``keep`` (what its plan needs; nothing for a job without one).

    Only a folder under :func:`~vigil.coverage.service.plans_dir` is touched; a failure is logged, never raised.
    """
    work = Path(work_dir).resolve()
    if plans_dir(v).resolve() not in work.parents or not work.is_dir():
        return
    kept = {Path(k).resolve() for k in keep}
    try:
        if kept:
            _prune(work, kept)
        else:
            shutil.rmtree(work)
    except OSError as exc:
        log.warning("plan job folder %s could not be cleaned: %s", work, exc)


def _prune(folder: Path, kept: set[Path]) -> None:
    """Delete what under ``folder`` is neither in ``kept`` nor on the way to it (links are not followed)."""
    for entry in folder.iterdir():
        if entry in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if any(entry in k.parents for k in kept):
                _prune(entry, kept)
            else:
                shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def _end(v: Vigil, job_id: int, state: str, *, error: str | None = None) -> str:
    with v.db.session() as s:
        jobs.finish_job(s, job_id, state, error=error)
    return state


class PlanJobService:
    """Run queued plan jobs in ``workers`` threads, one child process per running job."""

    def __init__(self, v: Vigil, *, workers: int = 1, poll_s: float = 1.0, runner: str | None = None) -> None:
        self.vigil, self.workers, self.poll_s = v, workers, poll_s
        self.runner = runner or f"{socket.gethostname()}:{v.settings.home.resolve()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    async def start(self) -> None:
        """Re-queue this runner's jobs of a previous life, then start the workers."""
        self.start_sync()

    async def stop(self) -> None:
        """Stop the workers; running jobs end their child and go back to the queue."""
        self.stop_sync()

    def start_sync(self) -> None:
        """:meth:`start` without an event loop (tests, the CLI)."""
        with self.vigil.db.session() as s:
            if ids := jobs.requeue_orphans(s, runner=self.runner):
                log.warning("plan jobs %s were running when the server stopped: queued again", ids)
        self._stop.clear()
        self._threads = [threading.Thread(target=self._loop, name=f"vigil-plan-jobs-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def stop_sync(self) -> None:
        """:meth:`stop` without an event loop."""
        self._stop.set()
        for t in self._threads:
            t.join(15)
        self._threads = []
        with self.vigil.db.session() as s:
            jobs.requeue_orphans(s, runner=self.runner)

    def run_once(self) -> str | None:
        """Claim and run one job if one is queued; return its final state (``None``: nothing queued)."""
        with self.vigil.db.session() as s:
            job = jobs.claim_next(s, self.runner)
            if job is not None:
                s.expunge(job)
        if job is None:
            return None
        try:
            state = run_job(self.vigil, job, stop=self._stop)
        except Exception:  # never leave it "running": it would be re-queued and fail again, forever
            log.exception("plan job %s failed", job.id)
            state = _end(self.vigil, job.id, "failed", error=_FAILED)
        if state in ("failed", "cancelled"):
            clean_work(self.vigil, job.work_dir)  # a done job's folder was cleaned when its plan was recorded
        return state

    def sweep(self, *, since: datetime | None = None) -> None:
        """Remove the folders of jobs that ended elsewhere (cancelled while queued, or while their server was down)."""
        with self.vigil.db.session() as s:
            folders = jobs.ended_without_plan(s, since=since)
        for folder in folders:
            clean_work(self.vigil, folder)

    def _loop(self) -> None:
        last_sweep, swept_at = 0.0, None
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_sweep > 10:
                    with self.vigil.db.session() as s:
                        jobs.requeue_orphans(s)  # other runners' jobs with a stale heartbeat
                    now = utcnow()
                    self.sweep(since=swept_at)  # every such folder at start, then those of the last minute
                    last_sweep, swept_at = time.monotonic(), now - timedelta(minutes=1)
                if self.run_once() is None:
                    self._stop.wait(self.poll_s)
            except Exception:  # a failed pass is logged and retried
                log.exception("plan job runner pass failed")
                self._stop.wait(self.poll_s)
