"""A killed worker is found by its missing heartbeats: the survivor takes its shards before the leases expire.

Two workers in this process on a real nats-server (TTL 15 s, the maximum, so no lease can expire
during the test). "Killing" one stops its loops and heartbeats without releasing anything, as a
SIGKILL does; the survivor must evict its member key and take every shard by compare-and-swap
(``taken_over``; a shard that expired would be ``create``d instead), and the dead worker's leases
are fenced.
"""

from __future__ import annotations

import asyncio
import contextlib

from vigil.worker.assign import DEFAULT_SHARDS
from vigil.worker.runner import Worker


async def _until(check, limit=60.0):
    for _ in range(int(limit / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not reached")


async def _kill(w: Worker) -> None:
    """Stop everything the worker does, releasing nothing (its keys stay until the TTL)."""
    for t in [*w._tasks, *w._bg]:
        t.cancel()
    for t in [*w._tasks, *w._bg]:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    w._tasks = []
    await w._hb.stop()
    await w._pool.stop()


@contextlib.asynccontextmanager
async def _pair(vigil, url, ttl):
    """Workers w1 and w2, started, once they share the shards between them."""
    ws = [Worker(vigil, nats_url=url, name=n, ttl=ttl, probe_interval=1.0) for n in ("w1", "w2")]
    try:
        for w in ws:
            await w.start()
        await _until(lambda: all(w.leases for w in ws) and len(ws[0].leases) + len(ws[1].leases) == DEFAULT_SHARDS
                     and not set(ws[0].leases) & set(ws[1].leases))
        yield ws
    finally:
        for w in reversed(ws):
            with contextlib.suppress(Exception):
                await w.stop()


async def test_silent_worker_is_taken_over_and_fenced(sqlite_vigil, nats_server):
    async with _pair(sqlite_vigil, nats_server.url, 15.0) as (w1, w2):
        dead = dict(w1.leases)
        await _kill(w1)
        await _until(lambda: len(w2.leases) == DEFAULT_SHARDS)
        assert w2.stats.evicted >= 1, w2.stats
        # swapped away from w1, not waited out (max_gap: the longest silences w2 heard, its own included)
        assert w2.stats.taken_over >= len(dead), (w2.stats, w2._hb.liveness.max_gap)
        assert await w2._table.holder("member.w1") is None
        for s, lease in dead.items():
            assert not await w1._table.check(lease)  # w1's writes would be refused
            h = await w2._table.holder(f"shard.{s}")
            assert h.owner == "w2" and h.token > lease.token


async def test_a_live_worker_is_not_taken_over(sqlite_vigil, nats_server):
    """Both beating: after several rounds nobody was taken for dead (evicted), so no shard was swapped away."""
    async with _pair(sqlite_vigil, nats_server.url, 6.0) as (w1, w2):
        await _until(lambda: w1._hb.liveness.max_gap.get("w1", 0) > 0 and w2._hb.liveness.max_gap.get("w2", 0) > 0)
        await asyncio.sleep(6.0)  # three reconcile rounds at TTL 6 s
        assert (w1.stats.evicted, w2.stats.evicted) == (0, 0)
        assert len(w1.leases) + len(w2.leases) == DEFAULT_SHARDS and not set(w1.leases) & set(w2.leases)
