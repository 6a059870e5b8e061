"""The console's live view of a GB/T 28181 channel, over the HTTP API: the same route and packager as RTSP.

Peers: the device is :class:`~vigil.gb28181.simdevice.SimDevice` (signalling over real UDP, FFmpeg-muxed
PS as RTP); real FFmpeg packages the HLS.
"""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from gbkit import NVR, PASSWORD, PLATFORM, until
from hubkit import CAM, add_channel, copied, frames_of

from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.api.routers.video import close_live
from vigil.gb28181.hub import MediaHub
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import SimDevice, ps_stream


async def test_live_view_of_a_gb_channel_over_the_api_and_bye_when_the_viewer_is_gone(gb_vigil, tmp_path):
    add_channel(gb_vigil)
    with gb_vigil.db.session() as s:
        auth = {"Authorization": f"Bearer {issue_token(s, add_user(s, 'duty', 'a-long-password', 'duty_officer', ['3402']))}"}
    app = create_app(gb_vigil)
    client = TestClient(app)
    url = f"/api/v1/video/live/{CAM}/index.m3u8"
    r = await asyncio.to_thread(client.get, url, headers=auth)  # no registrar runs: a clear 503
    assert r.status_code == 503 and "no registrar runs" in r.text and "Traceback" not in r.text

    srv = GbServer(gb_vigil, GbConfig(platform_id=PLATFORM, port=0, query_on_register=False))
    await srv.start()
    hub = MediaHub(srv)
    await hub.start()
    dev = SimDevice(NVR, PASSWORD, ("127.0.0.1", srv.port))
    dev.media, dev.pace_s = (source := ps_stream(60, noise=True, gop=10)), 6.0  # 6 s of video in real time
    await dev.start()
    try:
        assert await dev.register() == 200
        r = await asyncio.to_thread(client.get, url, headers=auth)
        assert r.status_code == 200, r.text
        segment = next(line for line in r.text.splitlines() if line.endswith(".ts"))
        seg = await asyncio.to_thread(client.get, f"/api/v1/video/live/{CAM}/{segment}", headers=auth)
        assert seg.status_code == 200 and seg.headers["content-type"] == "video/mp2t"
        (tmp_path / "seg.ts").write_bytes(seg.content)
        assert copied(frames_of(tmp_path / "seg.ts"), frames_of(source))  # stream copy, as for RTSP cameras
        assert hub.invites == 1 and hub.readers(CAM) == 1
        await asyncio.to_thread(close_live, app)  # what the idle reaper does when nobody watches
        assert await until(lambda: hub.bye_ok == 1, 10) and not hub.streams
    finally:
        await asyncio.to_thread(close_live, app)
        dev.close()
        await hub.stop()
        await srv.stop()
