"""The plan job runner of ``vigil serve``: worker threads that run each job in its own process.

A worker thread claims the next job fairly (:func:`vigil.coverage.jobs.claim_next`), reads the
registry's in-service cameras for it, and starts :func:`_child` in a fresh (spawned) process that runs
:func:`vigil.coverage.plan.run_plan`. The child sends each stage over a pipe; the thread writes the
stage and the percent (:class:`~vigil.coverage.progress.StageProgress`) and a heartbeat, checks for a
cancel every half second, and terminates the child when one was asked: a long solve stops at once.
The child exits by itself when its server dies. At start the runner puts the jobs it held in a
previous life back in the queue, and it takes over jobs whose runner's heartbeat went stale.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.errors import VigilError
from vigil.coverage import jobs
from vigil.coverage.models import PlanJob
from vigil.coverage.progress import StageProgress
from vigil.coverage.service import PlanOptions, plan_request, request_inputs

__all__ = ["PlanJobService", "run_job"]

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

    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        res = run_plan(request_from_inputs(inputs), out_dir, existing=existing,
                       progress=lambda stage, event: conn.send(("stage", stage, event)))
        conn.send(("done", res.summary))
    except VigilError as exc:
        conn.send(("error", str(exc)))
    except Exception:  # the traceback goes to the server log, the user gets one line
        log.exception("plan job failed")
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
    ctx = multiprocessing.get_context("spawn")  # never fork a threaded server
    mine, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(request_inputs(req), str(out), existing, theirs, os.getpid()),
                       daemon=True, name=f"vigil-plan-{job.id}")
    proc.start()
    theirs.close()
    track = StageProgress(time_limit=req.time_limit)
    outcome: tuple[Any, ...] | None = None
    try:
        while outcome is None:
            if stop is not None and stop.is_set():
                return "queued"
            msg = _read(mine)
            if msg is not None and msg[0] == "stage":
                cancel = _write(v, job.id, stage=msg[1], event=msg[2], percent=track.update(msg[1], msg[2]))
            elif msg is not None:
                outcome = msg
                break
            else:
                cancel = _write(v, job.id, percent=track.percent())
            if cancel:
                return _end(v, job.id, "cancelled", error="cancelled")
            if msg is None and not proc.is_alive() and not mine.poll():
                outcome = ("error", _FAILED)
    finally:
        _kill(proc)
        mine.close()
    if outcome[0] == "error":
        return _end(v, job.id, "failed", error=outcome[1])
    with v.db.session() as s:
        rec = record_plan(s, outcome[1], out, region_code=job.region_code, created_by=job.created_by,
                          name=opts.name, inputs=request_inputs(req))
        jobs.finish_job(s, job.id, "done", plan_id=rec.id)
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
            return run_job(self.vigil, job, stop=self._stop)
        except Exception:  # never leave it "running": it would be re-queued and fail again, forever
            log.exception("plan job %s failed", job.id)
            return _end(self.vigil, job.id, "failed", error=_FAILED)

    def _loop(self) -> None:
        last_sweep = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_sweep > 10:
                    with self.vigil.db.session() as s:
                        jobs.requeue_orphans(s)  # other runners' jobs with a stale heartbeat
                    last_sweep = time.monotonic()
                if self.run_once() is None:
                    self._stop.wait(self.poll_s)
            except Exception:  # a failed pass is logged and retried
                log.exception("plan job runner pass failed")
                self._stop.wait(self.poll_s)
