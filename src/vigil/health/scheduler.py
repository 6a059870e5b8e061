"""The health scheduler that runs inside ``vigil serve``: probes, picture samples, alarms, SLA, webhooks.

``vigil serve`` starts it on its event loop::

    sched = HealthScheduler(vigil, probe_interval=60, sample_interval=300)
    await sched.start()          # on application start-up
    ...
    await sched.stop()           # on shutdown

``sample_only`` (a callable returning camera ids) limits picture sampling to those cameras, e.g.
the simulated cameras that really stream. The constructor only assigns. Probes are spread evenly over the probe cycle: the
in-service cameras (sorted by id) are cut into ``slots`` slices, one slice per tick of
``probe_interval / slots`` seconds, so each camera is probed once per cycle at a
steady phase and the load is flat instead of one burst per cycle. Picture samples
(VQD) are spread the same way over ``sample_interval``, for online cameras only, and
run in worker threads (decoding is CPU work). Every ``housekeeping_interval`` seconds
alarms are synchronised with the camera status, SLA breaches flagged, work orders
resolved at least ``verify_delay`` seconds ago (time for a camera to reboot) verified
by re-probe, and pending webhooks delivered. A failing step is logged
and retried on the next tick; it never stops the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from vigil.core.context import Vigil
from vigil.core.models import Camera, Region, utcnow
from vigil.core.regions import in_subtrees
from vigil.core.telemetry import telemetry
from vigil.health.models import CameraStatus
from vigil.registry.streams import in_service_population

__all__ = ["HealthScheduler", "SchedulerStats", "slice_for_tick"]

log = logging.getLogger("vigil.health.scheduler")


def slice_for_tick(items: Sequence[Any], tick: int, slots: int) -> Sequence[Any]:
    """The ``tick``-th of ``slots`` near-equal consecutive slices of ``items`` (cycling)."""
    if slots <= 0:
        raise ValueError("slots must be positive")
    k = tick % slots
    n = len(items)
    return items[k * n // slots:(k + 1) * n // slots]


@dataclass
class SchedulerStats:
    """Counters for monitoring (exposed by ``vigil serve`` as it likes)."""

    probe_ticks: int = 0
    probed: int = 0
    sampled: int = 0
    skipped_slices: int = 0
    housekeeping_runs: int = 0
    errors: int = 0
    last_error: str = ""
    last_housekeeping: dict[str, Any] = field(default_factory=dict)


class HealthScheduler:
    """Spreads probes and VQD samples over their cycles and keeps alarms and work orders current."""

    def __init__(self, vigil: Vigil, *, probe_interval: float = 60.0, sample_interval: float = 300.0,
                 housekeeping_interval: float | None = None, tick: float = 1.0, concurrency: int = 200,
                 probe_timeout: float = 3.0, sample_workers: int = 1, region: str | None = None,
                 verify_resolved: bool = True, verify_delay: float = 60.0, deliver_webhooks: bool = True,
                 max_inflight: int = 4, sample_only: Callable[[], Collection[str]] | None = None) -> None:
        self.vigil = vigil
        self.sample_only = sample_only
        self.probe_interval = probe_interval
        self.sample_interval = sample_interval
        self.housekeeping_interval = housekeeping_interval or min(probe_interval, 30.0)
        self.tick = tick
        self.concurrency = concurrency
        self.probe_timeout = probe_timeout
        self.sample_workers = sample_workers
        self.region = region
        self.verify_resolved = verify_resolved
        self.verify_delay = verify_delay
        self.deliver_webhooks = deliver_webhooks
        self.max_inflight = max_inflight
        self.stats = SchedulerStats()
        self._disabled: set[Callable[..., Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def start(self) -> None:
        """Start the probe, sample and housekeeping loops on the running event loop."""
        if self.running:
            return
        if min(self.probe_interval, self.sample_interval, self.tick) <= 0:
            raise ValueError("intervals must be positive")
        self._stopping = asyncio.Event()
        self._tasks = [asyncio.create_task(self._spread(self.probe_interval, self._probe_ids, self._probe_slice),
                                           name="vigil-health-probe"),
                       asyncio.create_task(self._spread(self.sample_interval, self._sample_ids,
                                                        self._sample_slice), name="vigil-health-vqd"),
                       asyncio.create_task(self._housekeeping(), name="vigil-health-housekeeping")]

    async def stop(self) -> None:
        """Stop every loop and wait for them (an in-flight probe slice is cancelled)."""
        if self._stopping is not None:
            self._stopping.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    # ------------------------------------------------------------------ loops

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True if the scheduler is stopping."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))
            return True
        except TimeoutError:
            return False

    def _failed(self, what: str, exc: BaseException) -> None:
        self.stats.errors += 1
        telemetry().job_failed("health")
        self.stats.last_error = f"{what}: {type(exc).__name__}: {exc}"
        log.exception("health scheduler: %s failed", what)

    async def _spread(self, cycle: float, ids: Callable[[], list[str]],
                      run: Callable[[Sequence[str]], Awaitable[None]]) -> None:
        """Each tick, run the next slice of the camera list so that one cycle covers every camera."""
        slots = max(1, round(cycle / self.tick))
        step = cycle / slots
        tick, cameras = 0, []
        t_next = time.monotonic()
        running: set[asyncio.Task[None]] = set()
        while True:
            if tick % slots == 0:  # refresh the camera list at the start of every cycle
                try:
                    cameras = await asyncio.to_thread(ids)
                except Exception as exc:
                    self._failed("loading cameras", exc)
            batch = slice_for_tick(cameras, tick, slots)
            if batch and len(running) >= self.max_inflight:
                self.stats.skipped_slices += 1  # earlier slices are still busy: do not pile up work
            elif batch and run not in self._disabled:
                task = asyncio.create_task(self._guard(run, batch))
                running.add(task)
                task.add_done_callback(running.discard)
            tick += 1
            t_next += step
            if await self._sleep(t_next - time.monotonic()):
                break
        for task in running:
            task.cancel()

    async def _guard(self, run: Callable[[Sequence[str]], Awaitable[None]], batch: Sequence[str]) -> None:
        try:
            await run(batch)
        except asyncio.CancelledError:
            raise
        except ImportError as exc:  # the prober or VQD is not installed in this build: stop asking
            self._disabled.add(run)
            log.warning("health scheduler: %s disabled: %s", getattr(run, "__name__", "step"), exc)
        except Exception as exc:
            self._failed(getattr(run, "__name__", "step"), exc)

    def _camera_query(self) -> Any:
        return select(Camera.id).where(in_service_population(self.region))

    def _probe_ids(self) -> list[str]:
        with self.vigil.db.session() as s:
            return sorted(s.scalars(self._camera_query().where((Camera.main_url != "") | (Camera.sub_url != ""))))

    def _sample_ids(self) -> list[str]:
        q = self._camera_query().join(CameraStatus, CameraStatus.camera_id == Camera.id).where(
            CameraStatus.state == "online")
        with self.vigil.db.session() as s:
            ids = sorted(s.scalars(q))
        if self.sample_only is not None:
            keep = set(self.sample_only())
            ids = [i for i in ids if i in keep]
        return ids

    async def _probe_slice(self, ids: Sequence[str]) -> None:
        from vigil.health.probe import probe_targets
        from vigil.health.recheck import camera_targets
        from vigil.health.state import apply_results

        batch = await asyncio.to_thread(camera_targets, self.vigil, list(ids))
        now = utcnow()
        results = await probe_targets(batch, concurrency=self.concurrency, timeout=self.probe_timeout)

        def store() -> None:
            with self.vigil.db.session() as s:
                apply_results(s, results, now=now)

        await asyncio.to_thread(store)
        self.stats.probe_ticks += 1
        self.stats.probed += len(results)

    async def _sample_slice(self, ids: Sequence[str]) -> None:
        from vigil.health.recheck import call_diagnose

        sem = asyncio.Semaphore(max(1, self.sample_workers))

        async def one(cid: str) -> None:
            async with sem:
                try:
                    await call_diagnose(self.vigil, cid)
                    self.stats.sampled += 1
                except Exception as exc:  # one camera's failed sample is not the scheduler's failure
                    log.info("VQD sample of %s failed: %s", cid, exc)

        await asyncio.gather(*(one(c) for c in ids))

    async def _housekeeping(self) -> None:
        while True:
            try:
                self.stats.last_housekeeping = await self.housekeeping_once()
                self.stats.housekeeping_runs += 1
            except Exception as exc:
                self._failed("housekeeping", exc)
            if await self._sleep(self.housekeeping_interval):
                break

    def _sync_regions(self) -> list[str]:
        """The regions one level below the scheduler's region (or the top of the tree)."""
        with self.vigil.db.session() as s:
            if self.region:
                kids = list(s.scalars(select(Region.code).where(Region.parent_code == self.region)))
                return kids or [self.region]
            roots = list(s.scalars(select(Region.code).where(Region.parent_code.is_(None))))
            kids = list(s.scalars(select(Region.code).where(Region.parent_code.in_(roots))))
            grand = list(s.scalars(select(Region.code).where(Region.parent_code.in_(kids))))
            parts = grand or kids or roots
            # cameras registered above the chosen level would be missed: then sync the whole tree
            stray = s.scalar(select(Camera.id).where(~in_subtrees(Camera.region_code, parts)).limit(1))
        return roots if stray else parts

    async def housekeeping_once(self) -> dict[str, Any]:
        """One pass: sync alarms, flag SLA breaches, verify resolved orders, deliver webhooks."""
        from vigil.health.alarms import SyncReport, sync_alarms
        from vigil.health.workorders import check_sla, pending_verification, verify
        from vigil.notify.webhook import deliver_pending

        def sync() -> tuple[Any, list[int], list[int]]:
            # One short transaction per child region keeps the database's write lock free for the API.
            parts = []
            for code in self._sync_regions():
                with self.vigil.db.session() as s:
                    parts.append(sync_alarms(s, utcnow(), region=code))
            rep = SyncReport(*(sum(getattr(p, f) for p in parts) for f in ("raised", "cleared", "orders_opened")))
            with self.vigil.db.session() as s:
                breached = check_sla(s)
                before = utcnow() - timedelta(seconds=self.verify_delay)
                pending = pending_verification(s, resolved_before=before) if self.verify_resolved else []
            return rep, breached, pending

        rep, breached, pending = await asyncio.to_thread(sync)
        verified = []
        for oid in pending:
            res = await verify(self.vigil, oid, actor="scheduler")
            verified.append({"id": oid, "ok": res.ok})
        sent = await deliver_pending(self.vigil, retries=2) if self.deliver_webhooks else None
        return {"raised": rep.raised, "cleared": rep.cleared, "orders_opened": rep.orders_opened,
                "breached": breached, "verified": verified,
                "webhooks_delivered": sent.delivered if sent else 0}
