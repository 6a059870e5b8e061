"""The elected scheduler: one ``vigil serve --role scheduler`` node at a time holds ``leader.scheduler``.

Candidates try to ``create`` the leader key in the lease bucket every ``ttl/3`` seconds; the one
that wins starts the leader's services (the writer, the relay of webhooks and MQTT from the events
stream, and the housekeeping: alarms, work orders, SLA), renews the key, and stops them as soon as
a renewal fails. The writer and the relay also check the lease before every commit (:meth:`Elector.holds`), so a leader that was paused past its TTL
stops writing before the next leader starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from vigil.core.context import Vigil
from vigil.core.periodic import Periodic
from vigil.core.timeseries import KEEP_ENV, Maintenance, keep_days
from vigil.health.scheduler import HealthScheduler
from vigil.notify.relay import Relay
from vigil.worker.bus import connect, ensure_stream
from vigil.worker.lease import Lease, LeaseTable, open_bucket
from vigil.worker.runner import default_name
from vigil.worker.writer import Writer

__all__ = ["LEADER_KEY", "Elector", "Housekeeping", "scheduler_services"]

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
        self._loop: Periodic | None = None

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
        self._loop = Periodic(self._campaign, interval=self._table.renew_every, name="vigil-elector",
                              on_error=self._unsure)
        await self._loop.start()

    async def _campaign(self) -> None:
        """One round: renew the lease we hold (or step down), else try to take it and start the services."""
        t = self._table
        assert t is not None
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
        if self._loop is not None:
            await self._loop.stop()
        lease = self._lease
        await self._step_down()
        if lease is not None and self._table is not None:
            with contextlib.suppress(Exception):
                await self._table.release(lease)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()


def scheduler_services(vigil: Vigil, *, housekeeping_interval: float = 30.0,
                       mqtt: tuple[str, int] | None = None) -> Callable[[Elector], list[Any]]:
    """What the leader runs: the writer and the relay (gated by the leader lease), housekeeping, time series upkeep.

    The relay sends the webhooks (the outbox) and, with ``mqtt`` (host, port), the MQTT messages of
    the events stream. The retention (``VIGIL_TIMESERIES_KEEP``) is read now, so a bad setting stops the start.
    """
    keep = keep_days(os.environ.get(KEEP_ENV))

    def make(e: Elector) -> list[Any]:
        return [Writer(vigil, e.js, gate=e.holds), Relay(vigil, e.js, mqtt=mqtt, gate=e.holds),
                Housekeeping(vigil, interval=housekeeping_interval, deliver_webhooks=False),
                Maintenance(vigil.db, keep=keep)]
    return make
