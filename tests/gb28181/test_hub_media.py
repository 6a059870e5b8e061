"""Device streams that must still play through the media hub: no PSM, audio without PTS, IDRs over 64 KB.

The device is :class:`~vigil.gb28181.simdevice.SimDevice` (its media is FFmpeg-muxed PS, reshaped by
``device_ps`` the way devices send it); the reader is real FFmpeg with the recorder's input options,
copying the video (``-c copy``).
"""

from __future__ import annotations

import io

import av
import pytest
from gbkit import NVR, PASSWORD, PLATFORM, until
from hubkit import CAM, add_channel, copied, copy_video, frames_of, source_url
from sqlalchemy import select

from vigil.core.errors import NotFoundError, NotReadyError
from vigil.core.models import Camera
from vigil.gb28181.hub import MediaHub
from vigil.gb28181.media import demux_ps
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import SimDevice, device_ps, ps_stream
from vigil.video.recorder import Recorder, RecorderConfig
from vigil.video.sources import camera_source, has_media


def _largest_keyframe(ps: bytes) -> int:
    with av.open(io.BytesIO(ps), format="mpeg") as c:
        return max(p.size for p in c.demux(video=0) if p.size and p.is_keyframe)


@pytest.mark.parametrize("case, transport", [("no PSM", "udp"), ("PSM, G.711 audio without PTS", "udp"),
                                             ("no PSM, audio without PTS", "udp"), ("IDR over 64 KB", "tcp-passive")])
async def test_device_streams_play_through_the_hub(gb_vigil, tmp_path, case, transport):
    big = case.startswith("IDR")
    # 2 s of video: FFmpeg probes a PS for 0.5 s of it (devices keep sending; this one stops)
    raw = ps_stream(20, width=480 if big else 160, height=360 if big else 120, noise=True, gop=5)
    media = {"no PSM": raw, "PSM, G.711 audio without PTS": device_ps(raw, psm=True, audio=True),
             "no PSM, audio without PTS": device_ps(raw, psm=False, audio=True), "IDR over 64 KB": raw}[case]
    assert (b"\0\0\1\xbc" in media) == case.startswith("PSM")  # a program stream map, or none
    if "audio" in case:  # the audio is really there (G.711A by the PSM's stream type 0x90, else guessed)
        assert demux_ps(media).audio_codec == ("pcm_alaw" if case.startswith("PSM") else "mp2")
    if big:
        assert _largest_keyframe(raw) > 65_535  # more than one PES, and more than one RTP packet
    srv = GbServer(gb_vigil, GbConfig(platform_id=PLATFORM, port=0, query_on_register=False))
    await srv.start()
    hub = MediaHub(srv, transport=transport)
    await hub.start()
    dev = SimDevice(NVR, PASSWORD, ("127.0.0.1", srv.port))
    dev.media = media
    await dev.start()
    try:
        assert await dev.register() == 200
        add_channel(gb_vigil)
        frames = await copy_video(source_url(gb_vigil), tmp_path / "copy.mkv", 6)
        assert len(frames) == 6 and copied(frames, frames_of(raw))
        assert frames[0].shape == ((360, 480) if big else (120, 160))
        assert await until(lambda: hub.bye_ok == 1, 10)  # the only reader left: BYE, answered
        assert hub.streams == {}
    finally:
        dev.close()
        await hub.stop()
        await srv.stop()


def test_without_a_registrar_a_gb_camera_is_not_ready_and_the_recorder_waits_for_it(gb_vigil):
    add_channel(gb_vigil)
    with gb_vigil.db.session() as s:
        s.add(Camera(id="34020000001320000088", name="no media", region_code="340200", lon=117.0, lat=31.0))
        s.flush()
        with pytest.raises(NotReadyError, match="GB/T 28181 channel and no registrar runs"):
            camera_source(gb_vigil, s.get(Camera, CAM))
        with pytest.raises(NotFoundError, match="no stream URL"):
            camera_source(gb_vigil, s.get(Camera, "34020000001320000088"))
        assert set(s.scalars(select(Camera.id).where(has_media())).all()) == {CAM}  # the GB channel has media
    assert Recorder(gb_vigil, RecorderConfig(), camera_ids=[CAM])._wanted() == {}  # waits, does not fail
