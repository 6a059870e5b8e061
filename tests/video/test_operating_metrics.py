"""The probe and recorder figures on ``/metrics`` move when probes run and segments are written."""

from __future__ import annotations

import asyncio
import socket
import threading

from prometheus_client import generate_latest
from video_helpers import add_camera, wait_for

from vigil.api.app import create_app
from vigil.core.telemetry import telemetry
from vigil.health.probe import ProbeTarget, probe_one
from vigil.video.recorder import Recorder, RecorderConfig

CFG = RecorderConfig(segment_s=1, stall_s=6, backoff_min_s=0.3, backoff_max_s=1, retention_every_s=5,
                     min_free_bytes=0, io_timeout_s=3)


def _value(name: str, **labels: str) -> float:
    return telemetry().registry.get_sample_value(name, labels) or 0.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_figures_move(rtsp_server):
    online, down = _value("vigil_probes_total", result="online"), _value("vigil_probes_total", result="down")
    refused, timed = _value("vigil_probe_failures_total", reason="refused"), _value("vigil_probe_seconds_count")
    up = asyncio.run(probe_one(ProbeTarget(rtsp_server.url)))
    gone = asyncio.run(probe_one(ProbeTarget(f"rtsp://127.0.0.1:{_closed_port()}/x"), retries=0))
    assert up.ok and gone.reason == "refused"
    assert _value("vigil_probes_total", result="online") == online + 1
    assert _value("vigil_probes_total", result="down") == down + 1
    assert _value("vigil_probe_failures_total", reason="refused") == refused + 1
    assert _value("vigil_probe_seconds_count") == timed + 2
    assert _value("vigil_probe_seconds_sum") > 0


def test_recorder_figures_move_and_are_served(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url).id
    segs, restarts = _value("vigil_recorder_segments_total"), _value("vigil_recorder_restarts_total")
    rec, loop = Recorder(v, CFG, camera_ids=[cam]), asyncio.new_event_loop()
    stop: list[asyncio.Event] = []

    def main() -> None:
        stop.append(asyncio.Event())
        loop.run_until_complete(rec.run(stop[0]))

    t = threading.Thread(target=main, daemon=True)
    t.start()
    try:
        assert wait_for(lambda: _value("vigil_recorder_segments_total") >= segs + 2, 30), "no segments counted"
        rtsp_server.kill()  # the session ends: the recorder reconnects (and counts the restart)
        assert wait_for(lambda: _value("vigil_recorder_restarts_total") >= restarts + 1, 30), "no restart counted"
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        t.join(20)
    served = generate_latest(create_app(v).state.metrics_registry).decode()  # what GET /metrics answers
    for name in ("vigil_recorder_segments_total", "vigil_recorder_restarts_total", "vigil_probes_total",
                 "vigil_probe_seconds_bucket", "vigil_job_errors_total"):
        assert name in served, name
