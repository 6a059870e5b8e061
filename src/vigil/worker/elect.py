"""The elected scheduler: one ``vigil serve --role scheduler`` node at a time holds ``leader.scheduler``.

Candidates try to ``create`` the leader key in the lease bucket every ``ttl/3`` seconds; the one
that wins starts the leader's services (the writer, the relay of webhooks and MQTT from the events
stream, and the housekeeping: alarms, work orders, SLA), renews the key, and stops them as soon as
a renewal fails.

**A killed leader is not waited out.** Every candidate beats on ``vigil.scheduler.alive.<name>``
from a thread of its own (:class:`~vigil.worker.liveness.Heartbeats`, as workers do) and listens
to the others. A standby that finds the leader silent (``dead_after`` of its own time unheard)
takes the key at once with a compare-and-swap on the revision it read
(:meth:`~vigil.worker.lease.LeaseTable.take_over`): if the leader renewed meanwhile it is alive and
keeps it; of two standbys only one swap succeeds.

**Fencing.** The leader's token is the revision that won the key (a ``create`` or a swap), above
every earlier leader's. A new leader first raises the fence row :data:`~vigil.worker.fence.SCHEDULER_FENCE`
to its token (:class:`LeaderFence`), and its services write through
:func:`~vigil.worker.fence.fenced_vigil`: every transaction checks that fence first, so a stale
leader (paused, then taken for dead) has its writes refused at storage. The writer and the relay
also check the lease before every commit (:meth:`Elector.holds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from vigil.core.context import Vigil
from vigil.core.periodic import Periodic
from vigil.core.timeseries import KEEP_ENV, Maintenance, keep_days
from vigil.health.scheduler import HealthScheduler
from vigil.notify.relay import Relay
from vigil.worker.bus import connect, ensure_stream
from vigil.worker.fence import SCHEDULER_FENCE, fence_holds, fenced_vigil, raise_fence
from vigil.worker.lease import Holder, Lease, LeaseTable, open_bucket
from vigil.worker.liveness import SCHEDULER_SUBJECT, Heartbeats, dead_after, grace_after
from vigil.worker.runner import default_name
from vigil.worker.writer import Writer

__all__ = ["LEADER_KEY", "Elector", "Housekeeping", "LeaderFence", "scheduler_services"]

LEADER_KEY = "leader.scheduler"
log = logging.getLogger("vigil.worker.elect")


class Housekeeping:
    """The scheduler's periodic duties without probing (workers probe): ``HealthScheduler.housekeeping_once``.

    ``deliver_webhooks=False`` when the relay sends the outbox (it does on the elected scheduler).
    """

    def __init__(self, vigil: Vigil, *, interval: float = 30.0, deliver_webhooks: bool = True) -> None:
        self.vigil = vigil
        self.interval = interval
        self.deliver_webhooks = deliver_webhooks
        self._loop: Periodic | None = None

    async def start(self) -> None:
        """Start the passes on the running event loop; a failed pass is logged and retried next round."""
        sched = HealthScheduler(self.vigil, housekeeping_interval=self.interval,
                                deliver_webhooks=self.deliver_webhooks)
        self._loop = Periodic(sched.housekeeping_once, interval=self.interval, name="vigil-housekeeping")
        await self._loop.start()

    async def stop(self) -> None:
        """Stop the passes."""
        if self._loop is not None:
            await self._loop.stop()
            self._loop = None


class LeaderFence:
    """The first of the leader's services: raise :data:`SCHEDULER_FENCE` to our token before anything writes."""

    def __init__(self, vigil: Vigil, elector: Elector) -> None:
        self.vigil = vigil
        self.elector = elector

    async def start(self) -> None:
        await asyncio.to_thread(self._raise)

    def _raise(self) -> None:
        token = self.elector.token
        with self.vigil.db.session() as s:
            if not raise_fence(s, SCHEDULER_FENCE, token, self.elector.name):
                log.warning("scheduler %s: fenced above our token %d: a later leader exists", self.elector.name,
                            token)

    async def stop(self) -> None:
        """Nothing to undo: the next leader raises the fence above ours."""


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
        self.taken_over = 0  # terms won from a silent leader, before its key expired
        self._nc: Any = None
        self._table: LeaseTable | None = None
        self._lease: Lease | None = None
        self._leader: Holder | None = None  # the other leader, as last read
        self._running: list[Any] = []
        self._loop: Periodic | None = None
        self._hb: Heartbeats | None = None
        self._watch: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def leading(self) -> bool:
        return self._lease is not None and self._lease.alive()

    @property
    def token(self) -> int:
        """The fencing token of our term (0 when not leading)."""
        return self._lease.token if self._lease is not None else 0

    async def holds(self) -> bool:
        """True while our leader lease is current (checked against the bucket)."""
        lease, t = self._lease, self._table
        return lease is not None and t is not None and await t.check(lease)

    def fence_holds(self, session: Session) -> bool:
        """The gate of the leader's transactions: we lead and no later leader has raised the fence."""
        lease = self._lease
        return lease is not None and lease.alive() and fence_holds(session, SCHEDULER_FENCE, lease.token)

    async def start(self) -> None:
        self._nc = await connect(self.nats_url, name=f"vigil-scheduler-{self.name}")
        self.js = self._nc.jetstream()
        self._table = LeaseTable(await open_bucket(self.js, ttl=self.ttl), self.name, ttl=self.ttl)
        await ensure_stream(self.js)
        dead = dead_after(self.ttl)
        self._hb = Heartbeats(self._nc, self.nats_url, self.name, every=dead / 4, dead_after=dead,
                              grace=grace_after(self.ttl), subject=SCHEDULER_SUBJECT)
        await self._hb.start()
        self._loop = Periodic(self._campaign, interval=self._table.renew_every, name="vigil-elector",
                              on_error=self._unsure)
        await self._loop.start()
        self._watch = asyncio.create_task(self._watch_loop(), name="vigil-elector-watch")

    async def _watch_loop(self) -> None:
        """Every 0.25 s: a standby that finds the leader silent runs a round at once."""
        assert self._hb is not None
        while True:
            await asyncio.sleep(min(0.25, self._hb.every))
            h = self._leader
            if h is not None and self._lease is None and self._hb.liveness.silent({h.owner}):
                try:
                    await self._campaign()
                except Exception as exc:
                    await self._unsure(exc)

    async def _campaign(self) -> None:
        """One round: renew the lease we hold (or step down), else try to take it and start the services."""
        t = self._table
        assert t is not None
        async with self._lock:
            if self._lease is not None and not await t.renew(self._lease):
                log.warning("scheduler %s: lost the leadership", self.name)
                await self._step_down()
            if self._lease is None:
                self._lease = await self._claim(t)
                if self._lease is not None:
                    self._leader = None
                    self.terms += 1
                    log.warning("scheduler %s: elected (token %d)", self.name, self._lease.token)
                    for s in self.make_services(self):
                        await s.start()
                        self._running.append(s)

    async def _claim(self, t: LeaseTable) -> Lease | None:
        """Create the free key, or swap the key of a silent leader (or a stale one of ours); else note the leader."""
        h = await t.holder(LEADER_KEY)
        if h is None:
            return await t.acquire(LEADER_KEY)
        assert self._hb is not None
        if h.owner != self.name and h.owner not in self._hb.liveness.silent({h.owner}):
            self._leader = h  # alive, or never heard (a release without heartbeats): its TTL ends it
            return None
        got = await t.take_over(LEADER_KEY, h)
        if got is not None and h.owner != self.name:
            self.taken_over += 1
            log.warning("scheduler %s: the leader %s is silent (unheard for %.1f s); took over its term", self.name,
                        h.owner, self._hb.liveness.unheard_for(h.owner))
        return got
    async def _unsure(self, exc: Exception) -> None:
        """NATS away: the lease's own deadline decides whether we still lead."""
        log.warning("scheduler %s: %s: %s", self.name, type(exc).__name__, exc)
        if self._lease is not None and not self._lease.alive():
            await self._step_down()

    async def _step_down(self) -> None:
        self._lease = None
        for s in reversed(self._running):
            with contextlib.suppress(Exception):
                await s.stop()
        self._running = []

    async def stop(self) -> None:
        """Stop campaigning, stop the leader's services and release the lease."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._loop is not None:
            await self._loop.stop()
        lease = self._lease
        await self._step_down()
        if lease is not None and self._table is not None:
            with contextlib.suppress(Exception):
                await self._table.release(lease)
        if self._hb is not None:
            with contextlib.suppress(Exception):
                await self._hb.stop()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()


def scheduler_services(vigil: Vigil, *, housekeeping_interval: float = 30.0,
                       mqtt: tuple[str, int] | None = None) -> Callable[[Elector], list[Any]]:
    """What the leader runs: its fence, the writer, the relay, housekeeping and time series upkeep.

    All but the fence write through the instance fenced by the leader's token; the writer and the
    relay also check the leader lease before each commit. The relay sends the webhooks (the outbox) and, with ``mqtt`` (host, port), the MQTT messages of
    the events stream. The retention (``VIGIL_TIMESERIES_KEEP``) is read now, so a bad setting stops the start.
    """
    keep = keep_days(os.environ.get(KEEP_ENV))

    def make(e: Elector) -> list[Any]:
        v = fenced_vigil(vigil, e.fence_holds)
        return [LeaderFence(vigil, e), Writer(v, e.js, gate=e.holds), Relay(v, e.js, mqtt=mqtt, gate=e.holds),
                Housekeeping(v, interval=housekeeping_interval, deliver_webhooks=False),
                Maintenance(v.db, keep=keep)]
    return make
