"""Continuous analytics (the service ``vigil serve`` runs) against a real RTSP server serving vtest.avi."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from test_sinks import Subscriber, broker  # noqa: F401  (a real Mosquitto)

from vigil.access.guard import Scope
from vigil.analytics.models import Event
from vigil.analytics.settings import set_analytics
from vigil.analytics.worker import AnalyticsService, WorkerConfig, parse_mqtt
from vigil.core.errors import InputError

CFG = WorkerConfig(backoff_min_s=0.2, backoff_max_s=1.0, stable_s=2.0, io_timeout_s=3.0, sync_every_s=0.5,
                   join_timeout_s=10.0)
ZONES = {"zones": [{"name": "lower", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]],
                    "rules": [{"type": "intrusion", "labels": ["person"]}]}]}


def _people(v, cam: str, after: datetime | None = None) -> list[Event]:
    with v.db.session() as s:
        q = select(Event).where(Event.camera_id == cam, Event.label == "person", Event.type == "object")
        if after is not None:
            q = q.where(Event.start > after)
        rows = list(s.scalars(q))
        s.expunge_all()
        return rows


async def _poll(pred, timeout: float):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = await asyncio.to_thread(pred)
        if got:
            return got
        await asyncio.sleep(0.3)
    return await asyncio.to_thread(pred)


@pytest.mark.slow
def test_service_stores_events_reconnects_and_stops(sqlite_vigil, broker):  # noqa: F811
    from video_helpers_bridge import RtspServer, add_camera

    from vigil.sim.media import healthy_clip

    v = sqlite_vigil
    srv = RtspServer(healthy_clip(source="vtest", start=0.0, duration=40.0)).start()
    cam, down, idle = "53010200001320000001", "53010200001320000002", "53010200001320000003"
    with v.db.session() as s:
        add_camera(s, srv.url, cam_id=cam)
        add_camera(s, "rtsp://127.0.0.1:9/none", cam_id=down)  # never answers: must not stall the others
        add_camera(s, srv.url, cam_id=idle)  # analytics not enabled: never opened
        set_analytics(s, cam, enabled=True, zones=ZONES, actor="test", scope=Scope.everything())
        set_analytics(s, down, enabled=True, actor="test", scope=Scope.everything())

    async def scenario() -> dict[str, dict]:
        svc = AnalyticsService(v, max_streams=2, detect_fps=2.0, mqtt=f"127.0.0.1:{broker}", config=CFG)
        await svc.start()
        try:
            first = await _poll(lambda: _people(v, cam), 25)
            assert first, svc.status()
            srv.kill()  # the camera drops mid-stream
            assert await _poll(lambda: svc.workers[cam].state != "streaming", 10), svc.status()
            await asyncio.sleep(1.0)
            restarted = datetime.now(UTC)
            srv.start()
            again = await _poll(lambda: _people(v, cam, after=restarted), 25)
            assert again, svc.status()
            status = svc.status()
        finally:
            workers = list(svc.workers.values())
            await asyncio.wait_for(svc.stop(), 20)  # a hang check, not a timing measurement
        assert workers and not any(w.alive for w in workers) and svc.workers == {}
        return status

    sub = Subscriber(broker)
    try:
        out = asyncio.run(scenario())
        msgs = sub.wait(lambda m: ("vigil/available", b"offline", True) in m)
    finally:
        srv.kill()
        sub.stop()
    st = out
    assert st[cam]["sessions"] >= 2 and st[cam]["frames"] > 0
    assert st[down]["sessions"] >= 1 and st[down]["frames"] == 0 and st[down]["last_error"]
    assert idle not in st
    events = _people(v, cam)
    assert len(events) >= 3
    for e in events:
        assert e.end is not None and e.start <= e.end  # stop() ended every open event
        assert e.snapshot_path and Path(e.snapshot_path).is_file()
        assert e.region_code == "530102" and e.clip_url.startswith(f"/api/v1/video/cameras/{cam}/recordings")
    with v.db.session() as s:
        kinds = set(s.scalars(select(Event.type).where(Event.camera_id == cam)))
        assert "intrusion" in kinds  # the stored zones are used
        assert not s.scalars(select(Event).where(Event.camera_id.in_([down, idle]))).all()
    # the same events went out over MQTT, Home Assistant style; the service said goodbye when it stopped
    mq = [json.loads(p) for t, p, _ in msgs if t == "vigil/events"]
    assert {e["camera"] for e in mq} == {cam} and {"start", "end"} <= {e["phase"] for e in mq}
    assert b"ON" in [p for t, p, _ in msgs if t == f"vigil/{cam}/person"]
    assert msgs[-1][:2] == ("vigil/available", b"offline")


def test_mqtt_spec_parsing():
    assert parse_mqtt(None) is None and parse_mqtt("") is None
    assert parse_mqtt("broker") == ("broker", 1883)
    assert parse_mqtt("127.0.0.1:1884") == ("127.0.0.1", 1884)
    for bad in ("host:x", ":1883", "host:0"):
        with pytest.raises(InputError):
            parse_mqtt(bad)


def test_serve_runs_analytics_unless_switched_off(sqlite_vigil):
    import vigil.cli  # noqa: F401  (vigil.api.cli is loaded through the command registry)
    from vigil.api.cli import background_services

    def kinds(**kw) -> list[str]:
        return [type(s).__name__ for s in background_services(sqlite_vigil, probe_interval=60, sample_interval=600,
                                                              **kw)]

    both, no_analytics, no_scheduler = kinds(), kinds(analytics=False), kinds(scheduler=False)
    assert {"HealthScheduler", "AnalyticsService"} <= set(both)
    assert "AnalyticsService" not in no_analytics and "HealthScheduler" in no_analytics
    assert "HealthScheduler" not in no_scheduler and "AnalyticsService" in no_scheduler
    with pytest.raises(InputError):
        kinds(mqtt="broker:port")


def test_service_with_nothing_enabled_opens_nothing_and_stops(sqlite_vigil):
    async def scenario() -> dict:
        svc = AnalyticsService(sqlite_vigil, mqtt="", config=CFG)
        await svc.start()
        await asyncio.sleep(1.2)  # a few sync ticks
        status = svc.status()
        await asyncio.wait_for(svc.stop(), 10)
        return status

    assert asyncio.run(scenario()) == {}


def test_stream_errors_never_show_the_camera_password():
    from vigil.registry.streams import redact_text

    url = "rtsp://admin:p%40ss@127.0.0.1:554/sub"
    msg = f"Invalid data found when processing input: '{url}' (p@ss)"
    out = redact_text(msg, (url,))
    assert "p%40ss" not in out and "p@ss" not in out and "rtsp://127.0.0.1:554/sub" in out
    assert redact_text("plain", ("rtsp://127.0.0.1/x",)) == "plain"


def _fake_frames(frozen_clock: bool):
    """A stand-in stream of black frames, 50 per second; ``frozen_clock`` keeps its timestamps at 0 (lagging)."""
    import numpy as np

    def gen(url, *, max_seconds=None, timeout_s=10.0):
        for i in range(100_000):
            time.sleep(0.02)
            yield (0.0 if frozen_clock else i * 0.02), np.zeros((90, 160), np.uint8), \
                (lambda: np.zeros((90, 160, 3), np.uint8))

    return gen


def _two_cameras(v) -> list[str]:
    from video_helpers_bridge import add_camera

    cams = ["53010200001320000001", "53010200001320000002"]
    with v.db.session() as s:
        for c in cams:
            add_camera(s, f"rtsp://127.0.0.1:9/{c}", cam_id=c)
            set_analytics(s, c, enabled=True, scope=Scope.everything())
    return cams


def test_streams_are_bounded_and_lagging_analysis_drops_frames(sqlite_vigil, monkeypatch):
    monkeypatch.setattr("vigil.analytics.pipeline.frames", _fake_frames(frozen_clock=True))
    cams = _two_cameras(sqlite_vigil)
    cfg = WorkerConfig(sync_every_s=0.2, max_lag_s=0.1, join_timeout_s=5)

    async def scenario() -> list[list[str]]:
        svc = AnalyticsService(sqlite_vigil, max_streams=1, mqtt="", config=cfg)
        await svc.start()
        seen = []
        try:
            for _ in range(10):
                await asyncio.sleep(0.2)
                seen.append(sorted(w["state"] for w in svc.status().values()))
            dropped = svc.status()[next(c for c in cams if svc.status()[c]["state"] == "streaming")]["dropped"]
            assert dropped > 0
        finally:
            await asyncio.wait_for(svc.stop(), 10)
        return seen

    seen = asyncio.run(scenario())
    assert seen[-1] == ["streaming", "waiting"]  # one slot: the other camera waits for it
    assert all(s.count("streaming") <= 1 for s in seen)


def test_disabling_a_camera_stops_its_worker(sqlite_vigil, monkeypatch):
    monkeypatch.setattr("vigil.analytics.pipeline.frames", _fake_frames(frozen_clock=False))
    cams = _two_cameras(sqlite_vigil)

    async def scenario() -> tuple[set[str], set[str], dict]:
        svc = AnalyticsService(sqlite_vigil, cameras=cams, mqtt="", config=WorkerConfig(sync_every_s=0.2))
        await svc.start()
        try:
            await _poll(lambda: len(svc.workers) == 2 and all(w["frames"] for w in svc.status().values()), 10)
            before = set(svc.workers)
            with sqlite_vigil.db.session() as s:
                set_analytics(s, cams[1], enabled=False, scope=Scope.everything())
            await _poll(lambda: set(svc.workers) == {cams[0]}, 10)
            after = set(svc.workers)
            status = svc.status()
        finally:
            await asyncio.wait_for(svc.stop(), 10)
        return before, after, status

    before, after, status = asyncio.run(scenario())
    assert before == set(cams) and after == {cams[0]} and status[cams[0]]["dropped"] == 0


@pytest.mark.slow
def test_vigil_serve_analyses_enabled_cameras_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from video_helpers_bridge import RtspServer, add_camera

    from vigil.core.context import Vigil
    from vigil.sim.media import healthy_clip

    srv = RtspServer(healthy_clip(source="vtest", start=0.0, duration=40.0)).start()
    home = tmp_path / "home"
    v = Vigil.open(None, str(home))
    cam = "53010200001320000001"
    with v.db.session() as s:
        add_camera(s, srv.url, cam_id=cam)
        set_analytics(s, cam, enabled=True, actor="test", scope=Scope.everything())
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_DB", None)
    env.pop("VIGIL_MQTT", None)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--port", str(port), "--no-scheduler"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and not _people(v, cam):
            time.sleep(0.3)
        assert _people(v, cam)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        srv.kill()
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Traceback" not in err
    assert all(e.end is not None for e in _people(v, cam))  # shutdown ended the open events
    v.close()



def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_camera_clock_reset_starts_a_fresh_session(sqlite_vigil, monkeypatch, caplog):
    import logging

    import numpy as np

    caplog.set_level(logging.INFO, logger="vigil.analytics.worker")

    def resetting(url, *, max_seconds=None, timeout_s=10.0):
        for i in range(100_000):
            time.sleep(0.02)
            yield (i % 100) * 0.02, np.zeros((90, 160), np.uint8), (lambda: np.zeros((90, 160, 3), np.uint8))

    monkeypatch.setattr("vigil.analytics.pipeline.frames", resetting)
    cam = _two_cameras(sqlite_vigil)[0]

    async def scenario() -> dict:
        svc = AnalyticsService(sqlite_vigil, cameras=[cam], mqtt="",
                               config=WorkerConfig(sync_every_s=0.2, backoff_min_s=0.05))
        await svc.start()
        try:
            await _poll(lambda: svc.workers and svc.status()[cam]["sessions"] >= 3, 10)
            return svc.status()[cam]
        finally:
            await asyncio.wait_for(svc.stop(), 10)

    st = asyncio.run(scenario())
    assert st["sessions"] >= 3 and "timestamps jumped from 2.0s to 0.0s" in caplog.text
