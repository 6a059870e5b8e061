"""End to end with real parts: a simulated RTSP camera on 127.0.0.1, the real prober, the scheduler.

The scheduler probes the camera, the alarm and work order follow its outage, and the
order is closed only after a re-probe by the real prober confirms recovery.
"""

from __future__ import annotations

import asyncio

import pytest
from healthkit import add_camera
from sqlalchemy import select

from vigil.core.models import Camera
from vigil.health import workorders as wos
from vigil.health.models import Alarm, CameraStatus, WorkOrder
from vigil.health.scheduler import HealthScheduler, slice_for_tick

sim_rtsp = pytest.importorskip("vigil.sim.rtsp")
pytest.importorskip("vigil.health.probe")
pytest.importorskip("vigil.health.state")


def test_slices_cover_every_camera_once_per_cycle():
    items = list(range(23))
    slots = 5
    seen = [x for t in range(slots) for x in slice_for_tick(items, t, slots)]
    assert seen == items
    assert [len(slice_for_tick(items, t, slots)) for t in range(slots)] == [4, 5, 4, 5, 5]
    assert list(slice_for_tick(items, slots + 1, slots)) == list(slice_for_tick(items, 1, slots))
    with pytest.raises(ValueError):
        slice_for_tick(items, 0, 0)


async def _until(pred, what: str, limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


def _state(v, cid):
    with v.db.session() as s:
        st = s.get(CameraStatus, cid)
        return st.state if st else None


def _alarm_state(v, cid):
    with v.db.session() as s:
        return s.scalar(select(Alarm.state).where(Alarm.camera_id == cid))


def _order(v, cid):
    with v.db.session() as s:
        wo = s.scalar(select(WorkOrder).where(WorkOrder.camera_id == cid))
        if wo is not None:
            s.expunge(wo)
        return wo


async def test_scheduler_probe_alarm_and_reprobe_verification(tree):
    v = tree
    cam = sim_rtsp.SimCamera(index=0, host="127.0.0.1", port=0, username="admin", password="cam-pass-123")
    ctx = sim_rtsp.SimContext(slow_s=0.5)
    server = await asyncio.get_running_loop().create_server(lambda: sim_rtsp.CameraProtocol(cam, ctx),
                                                            "127.0.0.1", 0)
    cam.port = server.sockets[0].getsockname()[1]
    with v.db.session() as s:
        cid = add_camera(s, "53010201001", 11, url=cam.url)
        c = s.get(Camera, cid)
        c.username, c.password_enc = cam.username, v.box.seal(cam.password)
    sched = HealthScheduler(v, probe_interval=0.4, sample_interval=600, tick=0.1, housekeeping_interval=0.2,
                            probe_timeout=1.0, verify_delay=0)
    await sched.start()
    try:
        await _until(lambda: _state(v, cid) == "online", "the camera to be seen online")
        cam.faults = frozenset({"dropped"})
        await _until(lambda: _order(v, cid) is not None, "an alarm and a work order")
        oid = _order(v, cid).id
        with v.db.session() as s:
            wos.start(s, oid, actor="li.wei")
            wos.resolve(s, oid, actor="li.wei", note="said fixed, but it is not")
        await _until(lambda: _order(v, cid).state == "assigned", "the failed verification to reopen the order")
        assert "still down" in _order(v, cid).history[-1]["note"]
        cam.faults = frozenset()
        with v.db.session() as s:
            wos.resolve(s, oid, actor="li.wei", note="replaced the cable")
        await _until(lambda: _order(v, cid).state == "closed", "the re-probe to close the order")
        await _until(lambda: _state(v, cid) == "online", "the camera to be online again")
        await _until(lambda: _alarm_state(v, cid) == "cleared", "the alarm to clear")
        assert sched.stats.probed > 0 and sched.stats.housekeeping_runs > 0
        assert _order(v, cid).verified_at is not None
    finally:
        await sched.stop()
        server.close()
        await server.wait_closed()
    assert not sched.running
