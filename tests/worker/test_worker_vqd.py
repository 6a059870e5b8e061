"""A worker probes its cameras through the stream and writer, then samples the pictures of those it still owns."""

from __future__ import annotations

import asyncio

import nats
from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.health.models import CameraStatus
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet
from vigil.worker.assign import shard_of
from vigil.worker.lease import LeaseTable
from vigil.worker.runner import Worker
from vigil.worker.writer import Writer


def _states(v):
    with v.db.session() as s:
        return {c: (st, d) for c, st, d in s.execute(select(CameraStatus.camera_id, CameraStatus.state,
                                                            CameraStatus.last_diagnosis_at))}


async def test_worker_samples_only_cameras_it_still_owns(sqlite_vigil, nats_server):
    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="Pref")
    nc = await nats.connect(nats_server.url)
    w = Worker(v, nats_url=nats_server.url, name="w1", ttl=15.0, probe_interval=0.5, probe_timeout=2.0)
    writer = Writer(v, nc.jetstream())
    async with Fleet(2, streams=2) as fleet:
        cams = register_fleet(v, fleet.manifest()["cameras"])
        await w.start()
        await writer.start()
        try:
            for _ in range(120):
                st = await asyncio.to_thread(_states, v)
                if all(st.get(c, ("",))[0] == "online" for c in cams):
                    break
                await asyncio.sleep(0.25)
            assert all(st[c][0] == "online" for c in cams)
            assert shard_of(cams[0]) != shard_of(cams[1])
            assert writer.totals.stored > 0 and w.stats.published > 0
            # the worker's lease loop stalls; another worker takes the second camera's shard meanwhile
            w._tasks[0].cancel()
            lost = w.leases[shard_of(cams[1])]
            await w._table.release(lost)
            lost.deadline = float("inf")  # the stalled worker still believes it holds the shard
            w.leases[shard_of(cams[1])] = lost
            other = LeaseTable(w._table.kv, "w2", ttl=15.0)  # 15 s: the stalled worker keeps its other keys
            assert await other.acquire(f"shard.{shard_of(cams[1])}") is not None
            assert await w.sample_once() == 1
            st = await asyncio.to_thread(_states, v)
            assert st[cams[0]][1] is not None and st[cams[1]][1] is None
        finally:
            await writer.stop()
            await w.stop()
            await nc.close()
