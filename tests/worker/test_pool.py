"""The probe pool: each shard's results go out when its cameras are done; urgent sweeps go first (real RTSP)."""

from __future__ import annotations

import asyncio

import pytest

from vigil.health.probe import ProbeTarget
from vigil.sim.fleet import Fleet
from vigil.worker.pool import ProbePool, whole_groups


async def test_urgent_sweep_goes_ahead_and_groups_publish_when_complete():
    async with Fleet(6, seed=2) as fleet:
        targets = [ProbeTarget(c.url, c.username, c.password, key=f"c{i}") for i, c in enumerate(fleet.cameras)]
        groups = {f"c{i}": i // 2 for i in range(6)} | {f"u{i}": 10 + i for i in range(2)}
        published: list[tuple[int, list[str], bool]] = []

        async def publish(group, results):
            published.append((group, sorted(r.key for r in results), all(r.ok for r in results)))

        pool = ProbePool(concurrency=1, timeout=3.0)
        try:
            regular = asyncio.create_task(pool.run(targets, group_of=groups.__getitem__, publish=publish))
            while pool.queued == len(targets):  # the first regular probe is in flight
                await asyncio.sleep(0)
            urgent = [ProbeTarget(c.url, c.username, c.password, key=f"u{i}") for i, c in enumerate(fleet.cameras[:2])]
            assert await pool.run(urgent, group_of=groups.__getitem__, publish=publish, urgent=True) == 2
            assert await regular == 6
        finally:
            await pool.stop()
    # group 0 (c0, c1) was under way; the urgent groups came next, then the rest of the sweep
    assert [g for g, _, _ in published] == [10, 11, 0, 1, 2]
    assert published[2][1] == ["c0", "c1"] and all(ok for _, _, ok in published)


@pytest.mark.parametrize(("keys", "size", "chunks"), [
    ([], 3, []),
    (["a1", "b1", "a2"], 10, [["a1", "a2", "b1"]]),  # one chunk, ordered by group
    (["a1", "b1", "a2", "c1", "b2"], 2, [["a1", "a2"], ["b1", "b2"], ["c1"]]),
    (["a1", "a2", "a3", "b1"], 2, [["a1", "a2", "a3"], ["b1"]]),  # a group is never split
])
def test_whole_groups(keys, size, chunks):
    assert whole_groups(keys, lambda k: ord(k[0]), size=size) == chunks
