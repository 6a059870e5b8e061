"""The elected scheduler: one ``vigil serve --role scheduler`` node at a time holds ``leader.scheduler``.

Candidates try to ``create`` the leader key in the lease bucket every ``ttl/3`` seconds; the one
that wins starts the leader's services (the writer and the housekeeping: alarms, work orders, SLA,
webhooks), renews the key, and stops them as soon as a renewal fails. The writer also checks the
lease before every commit (:meth:`Elector.holds`), so a leader that was paused past its TTL
stops writing before the next leader starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from vigil.core.context import Vigil
from vigil.core.timeseries import KEEP_ENV, Maintenance, keep_days
from vigil.health.scheduler import HealthScheduler
from vigil.worker.bus import connect, ensure_stream
from vigil.worker.lease import Lease, LeaseTable, open_bucket
from vigil.worker.runner import default_name
from vigil.worker.writer import Writer

__all__ = ["LEADER_KEY", "Elector", "Housekeeping", "scheduler_services"]

LEADER_KEY = "leader.scheduler"
log = logging.getLogger("vigil.worker.elect")


class Housekeeping:
    """The scheduler's periodic duties without probing (workers probe): ``HealthScheduler.housekeeping_once``."""

    def __init__(self, vigil: Vigil, *, interval: float = 30.0) -> None:
        self.vigil = vigil
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sched = HealthScheduler(self.vigil, housekeeping_interval=self.interval)
        self._task = asyncio.create_task(self._run(sched), name="vigil-housekeeping")

    async def _run(self, sched: Any) -> None:
        while True:
            try:
                await sched.housekeeping_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed; retried next round")
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


class Elector:
    """Campaign for ``leader.scheduler``; run ``make_services()`` while leading."""

    def __init__(self, *, nats_url: str, make_services: Callable[[Elector], Sequence[Any]],
                 name: str | None = None, ttl: float = 9.0) -> None:
        self.nats_url = nats_url
        self.make_services = make_services
        self.name = name or default_name()
        self.ttl = ttl
        self.js: Any = None
        self.terms = 0
        self._nc: Any = None
        self._table: LeaseTable | None = None
        self._lease: Lease | None = None
        self._running: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._lease is not None and self._lease.alive()

    async def holds(self) -> bool:
        """True while our leader lease is current (checked against the bucket)."""
        lease, t = self._lease, self._table
        return lease is not None and t is not None and await t.check(lease)

    async def start(self) -> None:
        self._nc = await connect(self.nats_url, name=f"vigil-scheduler-{self.name}")
        self.js = self._nc.jetstream()
        self._table = LeaseTable(await open_bucket(self.js, ttl=self.ttl), self.name, ttl=self.ttl)
        await ensure_stream(self.js)
        self._task = asyncio.create_task(self._campaign(), name="vigil-elector")

    async def _campaign(self) -> None:
        t = self._table
        assert t is not None
        while True:
            try:
                if self._lease is not None and not await t.renew(self._lease):
                    log.warning("scheduler %s: lost the leadership", self.name)
                    await self._step_down()
                if self._lease is None:
                    self._lease = await t.acquire(LEADER_KEY)
                    if self._lease is not None:
                        self.terms += 1
                        log.warning("scheduler %s: elected (token %d)", self.name, self._lease.token)
                        for s in self.make_services(self):
                            await s.start()
                            self._running.append(s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away: the lease's own deadline decides
                log.warning("scheduler %s: %s: %s", self.name, type(exc).__name__, exc)
                if self._lease is not None and not self._lease.alive():
                    await self._step_down()
            await asyncio.sleep(t.renew_every)

    async def _step_down(self) -> None:
        self._lease = None
        for s in reversed(self._running):
            with contextlib.suppress(Exception):
                await s.stop()
        self._running = []

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        lease = self._lease
        await self._step_down()
        if lease is not None and self._table is not None:
            with contextlib.suppress(Exception):
                await self._table.release(lease)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()


def scheduler_services(vigil: Vigil, *, housekeeping_interval: float = 30.0) -> Callable[[Elector], list[Any]]:
    """What the leader runs: the writer (gated by the leader lease), the housekeeping and the time series upkeep.

    The retention (``VIGIL_TIMESERIES_KEEP``) is read now, so a bad setting stops the start.
    """
    keep = keep_days(os.environ.get(KEEP_ENV))

    def make(e: Elector) -> list[Any]:
        return [Writer(vigil, e.js, gate=e.holds), Housekeeping(vigil, interval=housekeeping_interval),
                Maintenance(vigil.db, keep=keep)]
    return make
