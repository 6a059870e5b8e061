"""Heartbeats: a worker that stops beating is known dead long before its leases expire.

Every worker publishes an empty core-NATS message on ``vigil.worker.alive.<name>`` every
``every`` seconds and listens to everybody's (:class:`Heartbeats`). The beats come from a thread
of their own with its own connection, so a busy event loop (20,000 probes in flight) does not
delay them: a beat says the process is alive; a worker whose loop is wedged is found by its
leases, which it no longer renews. :class:`Liveness` (pure) keeps
the last time each name was heard and judges a member **silent** when we have heard *ourselves*
more than ``dead_after`` seconds after the last time we heard it. Measuring against our own beat
means that a pause of our own event loop, or of NATS (a restart loses core messages for everyone
at once), makes nobody silent: only a worker that stopped while we kept going is. After a gap in
our own beats (NATS restarting, our loop stalled) we judge nobody for ``grace`` seconds, so a
worker that reconnects a little after us is not taken for dead; the leases' TTL decides meanwhile.
The grace (:func:`grace_after`) is one silence window, as a member gets in normal running: every
client reconnects within a second of the server, and a worker killed during our own gap is still
found before its leases run out.

A silent member is only a suspect: :mod:`vigil.worker.runner` removes its member key and takes its
shards with a compare-and-swap on the revision it read, so a member that was alive after all
(it renewed meanwhile) keeps them, and one that was merely paused is fenced by the higher tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable
from typing import Any

from vigil.worker.bus import connect

__all__ = ["HEARTBEAT_SUBJECT", "SCHEDULER_SUBJECT", "Heartbeats", "Liveness", "dead_after", "grace_after"]

HEARTBEAT_SUBJECT = "vigil.worker.alive"
SCHEDULER_SUBJECT = "vigil.scheduler.alive"  # the scheduler candidates beat and listen on their own subject


def dead_after(ttl: float) -> float:
    """How long a member may go unheard before it is a suspect: a third of the TTL, at most 3 s."""
    return min(3.0, ttl / 3)


def grace_after(ttl: float) -> float:
    """How long we judge nobody after a gap in our own beats: one silence window (3 s at most).

    It was one TTL: a CI run judged a killed worker only 15.7 s after its last beat (a gap of our
    own just after the kill had started the grace), by when its leases had run out, so its shards
    were created anew instead of taken over and fenced.
    """
    return dead_after(ttl)


class Liveness:
    """When each worker was last heard (monotonic seconds), and who has gone silent."""

    def __init__(self, me: str, *, dead_after: float, grace: float) -> None:
        self.me = me
        self.dead_after = dead_after
        self.grace = grace
        self._last: dict[str, float] = {}
        self._hold_until = 0.0
        self.max_gap: dict[str, float] = {}  # the longest silence seen per worker (the margin left)

    def heard(self, name: str, at: float) -> None:
        prev = self._last.get(name)
        if prev is None:
            self._last[name] = at
            return
        gap = at - prev
        self.max_gap[name] = max(self.max_gap.get(name, 0.0), gap)
        if name == self.me and gap > self.dead_after:  # we were away ourselves: judge nobody for a while
            self._hold_until = at + self.grace
        self._last[name] = max(prev, at)

    def silent(self, names: Iterable[str]) -> set[str]:
        """The ``names`` once heard and now unheard for ``dead_after`` of our own time.

        A worker never heard is never silent: it may be of a release without heartbeats, whose
        leases only their TTL ends.
        """
        mine = self._last.get(self.me)
        if mine is None or mine < self._hold_until:  # not hearing ourselves, or just back: judge nobody
            return set()
        return {m for m in set(names) - {self.me} if m in self._last and mine - self._last[m] > self.dead_after}

    def heard_of(self, name: str) -> bool:
        """True once ``name`` has been heard (only such a member can ever be judged silent)."""
        return name in self._last

    def unheard_for(self, name: str) -> float:
        """Seconds of our own time since ``name`` was last heard (0 when never)."""
        mine, last = self._last.get(self.me), self._last.get(name)
        return 0.0 if mine is None or last is None else max(0.0, mine - last)



class Heartbeats:
    """Beat on ``<subject>.<name>`` (from a thread) and feed everybody's beats into :attr:`liveness`.

    ``nc`` is the process's connection, on which the beats are heard; ``url`` is where the beating
    thread connects on its own. Workers beat on :data:`HEARTBEAT_SUBJECT`, scheduler candidates
    on :data:`SCHEDULER_SUBJECT`.
    """

    def __init__(self, nc: Any, url: str, name: str, *, every: float, dead_after: float, grace: float,
                 subject: str = HEARTBEAT_SUBJECT) -> None:
        self.nc = nc
        self.url = url
        self.name = name
        self.subject = subject
        self.every = every
        self.liveness = Liveness(name, dead_after=dead_after, grace=grace)
        self._sub: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self.subject + ".>", cb=self._on)
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._beat()), daemon=True,
                                        name=f"vigil-heartbeat-{self.name}")
        self._thread.start()

    async def _on(self, msg: Any) -> None:
        self.liveness.heard(msg.subject.removeprefix(self.subject + "."), time.monotonic())

    async def _beat(self) -> None:
        """The beating thread's loop: its own connection, one empty message every ``every`` seconds."""
        nc = await connect(self.url, name=f"vigil-heartbeat-{self.name}")
        subject = f"{self.subject}.{self.name}"
        try:
            while not self._stop.is_set():
                with contextlib.suppress(Exception):  # not connected: the client buffers or drops it
                    await nc.publish(subject, b"")
                    await nc.flush(timeout=self.every)
                await asyncio.sleep(self.every)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    async def stop(self) -> None:
        """Stop beating (the thread ends within ``every`` seconds) and listening."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
