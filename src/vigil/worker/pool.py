"""A worker's probe pool: one set of ``concurrency`` slots for every sweep, urgent work first.

:meth:`ProbePool.run` queues a sweep's targets and returns when all of them are probed. Each
target belongs to a group (a shard); the moment a group's last target is probed its results go
to ``publish``, so a shard's batch does not wait for the end of the whole sweep (a sweep's
targets are queued group by group, so its groups complete one after another). A sweep run with
``urgent=True`` (the cameras of shards just taken over from a dead worker) goes ahead of every
target still queued: the slots take it as soon as the probes in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.health.probe import ProbeResult, ProbeTarget, probe_guarded

__all__ = ["ProbePool", "Publish", "whole_groups"]

Publish = Callable[[int, list[ProbeResult]], Coroutine[Any, Any, None]]


def whole_groups(keys: Sequence[str], group_of: Callable[[str], int], *, size: int) -> list[list[str]]:
    """``keys`` ordered by group and cut into chunks of about ``size``, never splitting a group."""
    by: dict[int, list[str]] = {}
    for k in keys:
        by.setdefault(group_of(k), []).append(k)
    out: list[list[str]] = []
    cur: list[str] = []
    for g in sorted(by):
        cur += by[g]
        if len(cur) >= size:
            out.append(cur)
            cur = []
    return [*out, cur] if cur else out


@dataclass
class _Sweep:
    """One :meth:`ProbePool.run`: targets left per group, the results so far, the publishes under way."""

    publish: Publish
    left: Counter[int]
    results: dict[int, list[ProbeResult]] = field(default_factory=dict)
    publishing: list[asyncio.Task[None]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ProbePool:
    """``concurrency`` probe slots shared by the sweeps of one worker. The constructor only assigns."""

    def __init__(self, *, concurrency: int, timeout: float) -> None:
        self.concurrency = concurrency
        self.timeout = timeout
        self._urgent: deque[tuple[ProbeTarget, int, _Sweep]] = deque()
        self._queue: deque[tuple[ProbeTarget, int, _Sweep]] = deque()
        self._more = asyncio.Event()
        self._slots: list[asyncio.Task[None]] = []

    @property
    def queued(self) -> int:
        return len(self._urgent) + len(self._queue)

    async def run(self, targets: Sequence[ProbeTarget], *, group_of: Callable[[str], int], publish: Publish,
                  urgent: bool = False) -> int:
        """Probe ``targets`` (ahead of the queue when ``urgent``); each group's results go to ``publish``."""
        if not targets:
            return 0
        if not self._slots:
            self._slots = [asyncio.create_task(self._slot(), name="vigil-worker-probe-slot")
                           for _ in range(self.concurrency)]
        groups = [group_of(t.key) for t in targets]
        sweep = _Sweep(publish, Counter(groups))
        items = sorted(zip(targets, groups, [sweep] * len(targets), strict=True), key=lambda it: it[1])
        if urgent:
            self._urgent.extend(items)
        else:
            self._queue.extend(items)
        self._more.set()
        await sweep.done.wait()
        await asyncio.gather(*sweep.publishing)
        return len(targets)

    async def _slot(self) -> None:
        while True:
            if not (self._urgent or self._queue):
                self._more.clear()
                await self._more.wait()
                continue
            target, group, sweep = (self._urgent or self._queue).popleft()
            got = await probe_guarded(target, timeout=self.timeout)  # in this slot's task: no task per probe
            sweep.results.setdefault(group, []).append(got)
            sweep.left[group] -= 1
            if sweep.left[group] == 0:
                sweep.publishing.append(asyncio.create_task(sweep.publish(group, sweep.results.pop(group))))
                del sweep.left[group]
                if not sweep.left:
                    sweep.done.set()

    async def stop(self) -> None:
        """Cancel the slots (probes in flight end; queued targets are dropped)."""
        for t in self._slots:
            t.cancel()
        for t in self._slots:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._slots = []
        self._urgent.clear()
        self._queue.clear()
