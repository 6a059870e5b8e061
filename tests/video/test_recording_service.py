"""Recording as a `vigil serve` background service: start, record real RTSP, stop cleanly."""

from __future__ import annotations

import asyncio

from test_recorder import CFG, check_index, segments
from video_helpers import add_camera

from vigil.api.cli import background_services
from vigil.video.service import RecordingService


async def test_service_records_and_stops(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url).id
    svc = RecordingService(v, [cam], CFG)
    await svc.start()
    try:
        for _ in range(200):
            if len(await asyncio.to_thread(segments, v, cam)) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await asyncio.wait_for(svc.stop(), 30)
    rows = check_index(v, cam)
    assert len(rows) >= 2


def test_serve_records_only_when_asked(sqlite_vigil):
    kinds = [type(s).__name__ for s in background_services(sqlite_vigil, probe_interval=60, sample_interval=600)]
    assert "RecordingService" not in kinds
    with_rec = background_services(sqlite_vigil, probe_interval=60, sample_interval=600, record=["all"])
    rec = [s for s in with_rec if isinstance(s, RecordingService)]
    assert len(rec) == 1 and rec[0].recorder.camera_ids is None
