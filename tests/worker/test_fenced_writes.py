"""Every per-camera write a worker makes is refused at storage once a later owner fenced the camera's shard.

A real worker (real nats-server, SQLite and PostgreSQL, the RTSP simulator) holds every shard;
its lease loop then stalls while it still believes it holds them, and a second owner takes one
camera's shard by compare-and-swap and raises the fence with its larger token. Each write path
of the stale worker is tried for that camera (refused, nothing stored, no note on the events
stream) and for a camera of a shard nobody took (stored): probe batches through the writer, VQD
samples (status faults, quality changes, the baseline), analytics events and queue minutes, and
the gate of segment rows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import nats
import pytest
from sqlalchemy import func, select

from vigil.access.bootstrap import init_instance
from vigil.analytics.events import AnalyticsEvent
from vigil.analytics.models import Event, QueueSample
from vigil.analytics.roadrules import QueueMinute
from vigil.analytics.settings import CameraAnalytics
from vigil.core.models import utcnow
from vigil.health.models import CameraStatus, StatusChange, VqdBaseline
from vigil.health.recheck import call_diagnose
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet
from vigil.worker.assign import shard_of
from vigil.worker.bus import EVENTS_STREAM, ProbeBatch
from vigil.worker.fence import FencedOff, raise_fence
from vigil.worker.lease import LeaseTable
from vigil.worker.runner import Worker
from vigil.worker.writer import store_batches


def _count(v, model, cam):
    with v.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(model.camera_id == cam))


def _set_online(v, cams):
    with v.db.session() as s:
        for c in cams:
            st = s.get(CameraStatus, c)
            if st is None:
                s.add(CameraStatus(camera_id=c, state="online", reason="", since=utcnow(), faults=[]))
            else:
                st.state = "online"


def _diagnosed(v, cam):
    with v.db.session() as s:
        st = s.get(CameraStatus, cam)
        return st.last_diagnosis_at is not None and s.get(VqdBaseline, cam) is not None


def _batch(w, cam, n):
    """The stale worker's n-th probe batch for ``cam`` (a down result), under the lease it believes it holds."""
    lease = w.leases[shard_of(cam)]
    return ProbeBatch(f"w1.test.{cam}.{n}", shard_of(cam), lease.token, "w1", utcnow() + timedelta(seconds=n),
                      ((cam, False, "refused", 2.0),))


def _store(v, batch):
    with v.db.session() as s:
        return store_batches(s, [batch])


def _event(cam):
    return AnalyticsEvent(cam, "intrusion", "person", utcnow(), None, (0.1, 0.1, 0.2, 0.3), 0.9, zone="z")


async def _events_on_stream(js):
    return (await js.stream_info(EVENTS_STREAM)).state.messages


@pytest.fixture
async def stale(vigil, nats_server):
    """(vigil, the stale worker, the fenced camera, a camera whose shard it still holds, the JetStream).

    TTL 15 s: the stalled worker's other keys stay in the bucket for the length of a test.
    """
    init_instance(vigil, root_code="5301", root_name="Pref")
    nc = await nats.connect(nats_server.url)
    w = Worker(vigil, nats_url=nats_server.url, name="w1", ttl=15.0, probe_interval=600, probe_timeout=2.0)
    async with Fleet(2, streams=2) as fleet:
        cams = register_fleet(vigil, fleet.manifest()["cameras"])
        assert shard_of(cams[0]) != shard_of(cams[1])
        await w.start()
        try:
            for _ in range(240):  # its shards won and the first sweep published (no other publish for 600 s)
                if all(shard_of(c) in w.leases for c in cams) and w.stats.published >= len(cams):
                    break
                await asyncio.sleep(0.25)
            w._tasks[0].cancel()  # the lease loop stalls: w1 still believes it holds every shard
            for lease in w.leases.values():
                lease.deadline = float("inf")
            fenced, kept = cams[1], cams[0]
            other = LeaseTable(w._table.kv, "w2", ttl=15.0)
            holder = await other.holder(f"shard.{shard_of(fenced)}")
            taken = await other.take_over(f"shard.{shard_of(fenced)}", holder)
            assert taken is not None and taken.token > w.leases[shard_of(fenced)].token
            with vigil.db.session() as s:
                assert raise_fence(s, shard_of(fenced), taken.token, "w2")
            await asyncio.to_thread(_set_online, vigil, cams)
            yield vigil, w, fenced, kept, nc.jetstream()
        finally:
            await w.stop()
            await nc.close()


async def test_a_stale_workers_probe_batches_are_refused_by_the_writer(stale):
    v, w, fenced, kept, _ = stale
    for cam, stored in ((fenced, 0), (kept, 1)):
        for n in (1, 2):  # two down results in a row: the debounce confirms the change
            rep = await asyncio.to_thread(_store, v, _batch(w, cam, n))
            assert (rep.stored, rep.fenced) == (stored, 1 - stored)
        assert await asyncio.to_thread(_count, v, StatusChange, cam) == stored  # no status change from a stale one


async def test_a_stale_workers_vqd_samples_are_refused(stale):
    v, w, fenced, kept, _ = stale
    with pytest.raises(FencedOff):  # the sample that passed the lease check before the take-over: refused at storage
        await call_diagnose(w.camera_vigil(fenced), fenced)
    assert not await asyncio.to_thread(_diagnosed, v, fenced)
    assert await w.sample_once() == 1  # the kept camera is sampled and stored; the fenced one is refused
    assert await asyncio.to_thread(_diagnosed, v, kept)
    assert not await asyncio.to_thread(_diagnosed, v, fenced)
    assert shard_of(fenced) not in w.leases  # its check of the lease saw the new owner first and dropped it
    # a successor fences the kept camera's shard after the sample's lease check: the store is refused
    with v.db.session() as s:
        before = s.get(CameraStatus, kept).last_diagnosis_at
        assert raise_fence(s, shard_of(kept), w.leases[shard_of(kept)].token + 1000, "w3")
    fenced_before = w.stats.fenced
    assert await w.sample_once() == 0
    assert w.stats.fenced == fenced_before + 1 and shard_of(kept) not in w.leases
    with v.db.session() as s:
        assert s.get(CameraStatus, kept).last_diagnosis_at == before


async def test_a_stale_workers_events_and_queue_minutes_are_refused_and_not_announced(stale):
    v, w, fenced, kept, js = stale
    notes = await _events_on_stream(js)
    for cam, refused in ((fenced, True), (kept, False)):
        (sink,) = w.event_sinks(CameraAnalytics(cam, "5301", "", None, ()))
        minute = QueueMinute(cam, "lane", utcnow().replace(second=0, microsecond=0), 12.5, 3)
        if refused:
            with pytest.raises(FencedOff):
                await asyncio.to_thread(sink.publish, _event(cam))
            with pytest.raises(FencedOff):
                await asyncio.to_thread(sink.record_queue, minute)
        else:
            await asyncio.to_thread(sink.publish, _event(cam))
            await asyncio.to_thread(sink.record_queue, minute)
        rows = (await asyncio.to_thread(_count, v, Event, cam), await asyncio.to_thread(_count, v, QueueSample, cam))
        assert rows == ((0, 0) if refused else (1, 1))
    assert await _events_on_stream(js) == notes + 1  # only the stored event's note went out


async def test_a_stale_workers_segment_rows_are_refused(stale):
    v, w, fenced, kept, _ = stale
    with v.db.session() as s:
        assert not w.fence_holds(s, fenced)
    with v.db.session() as s:
        assert w.fence_holds(s, kept)
