"""Fencing of recordings on a scale-out worker: a worker whose lease is taken away stops recording at once.

A worker (leases on a real nats-server) records one camera of a real RTSP server, with the
recorder's own sync every 30 s, so only the lease loss can stop it. Another owner takes the
shard's key and raises the shard's fence, as a successor does: the worker's next renewal fails,
its FFmpeg is stopped within seconds and no segment row of it appears afterwards. A segment row
written with the old token is refused (no row, the file removed); the new token's is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from test_recorder import CFG
from video_helpers import add_camera

from vigil.video.models import RecordingSegment
from vigil.video.recorder import CameraRecorder
from vigil.worker.assign import shard_of
from vigil.worker.bus import connect
from vigil.worker.fence import fence_holds, raise_fence
from vigil.worker.lease import LeaseTable, open_bucket
from vigil.worker.natsserver import NatsServer
from vigil.worker.runner import Worker

CAM = "53010200001320000001"
SLOW_SYNC = dataclasses.replace(CFG, retention_every_s=30.0)  # the recorder's own sync cannot rescue the test


def _rows(v) -> list[RecordingSegment]:
    with v.db.session() as s:
        return list(s.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == CAM)))


async def _until(what, check, limit):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if await asyncio.to_thread(check):
            return time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


async def test_a_worker_that_loses_its_lease_stops_recording_and_stale_rows_are_refused(sqlite_vigil, rtsp_server,
                                                                                          tmp_path):
    v = sqlite_vigil
    with v.db.session() as s:
        add_camera(s, rtsp_server.url, cam_id=CAM)
    shard = shard_of(CAM)
    nats_srv = NatsServer(tmp_path / "nats").start()
    w1 = Worker(v, nats_url=nats_srv.url, name="w1", ttl=3.0, probe_interval=60.0, recording=SLOW_SYNC)
    nc = await connect(nats_srv.url, name="successor")
    renewing: asyncio.Task[None] | None = None
    try:
        await w1.start()
        await _until("w1 records the camera", lambda: any(r.complete and r.node == "w1" for r in _rows(v)), 60)
        old = w1.leases[shard]
        rec = w1.services[0].recorder.cameras[CAM]
        assert rec.proc is not None and rec.proc.returncode is None

        # the successor: the key moves to w2 (as after an expiry), which raises the fence
        kv = await open_bucket(nc.jetstream(), ttl=3.0)
        w2 = LeaseTable(kv, "w2", ttl=3.0)
        await kv.delete(f"shard.{shard}")
        new = await w2.acquire(f"shard.{shard}")
        assert new is not None and new.token > old.token
        with v.db.session() as s:
            assert raise_fence(s, shard, new.token, "w2")

        async def keep_renewing() -> None:
            while True:
                await asyncio.sleep(w2.renew_every)
                await w2.renew(new)

        renewing = asyncio.create_task(keep_renewing())
        took = await _until("w1 stops its FFmpeg", lambda: rec.proc is None or rec.proc.returncode is not None, 8)
        print(f"w1 stopped recording {took:.1f} s after losing the shard (recorder sync every 30 s)")
        assert not w1.holds(CAM) and w1.stats.lost >= 1
        assert CAM not in w1.services[0].recorder._running
        n = len(_rows(v))
        await asyncio.sleep(2 * SLOW_SYNC.segment_s + 1)  # a recorder still running would index a segment
        assert len(_rows(v)) == n and shard not in w1.leases  # w2 holds it: w1 cannot take it back

        # the segment index checks the token: the old one is refused, the new one stored
        f_old, f_new = tmp_path / "stale.mp4", tmp_path / "fresh.mp4"
        f_old.write_bytes(b"\0" * 100)
        f_new.write_bytes(b"\0" * 100)
        start = datetime.now(UTC)
        stale = CameraRecorder(v, CAM, "rtsp://unused", CFG, node="w1",
                               fence=lambda s, cid: fence_holds(s, shard_of(cid), old.token))
        fresh = CameraRecorder(v, CAM, "rtsp://unused", CFG, node="w2",
                               fence=lambda s, cid: fence_holds(s, shard_of(cid), new.token))
        await asyncio.to_thread(stale._index, f_old, start, start + timedelta(seconds=2))
        await asyncio.to_thread(fresh._index, f_new, start, start + timedelta(seconds=2))
        paths = {r.path: r.node for r in _rows(v)}
        assert str(f_old) not in paths and not f_old.exists() and stale.refused == 1
        assert paths[str(f_new)] == "w2" and fresh.refused == 0
    finally:
        if renewing is not None:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        await w1.stop()
        await nc.close()
        nats_srv.stop()
