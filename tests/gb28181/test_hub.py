"""GB/T 28181 channels in the live view and the recorder: one INVITE per channel, BYE after the last reader.

Peers: SIPp (Debian sip-tester) plays the NVR's signalling; its media is FFmpeg-muxed PS (``mpeg``
muxer) sent as RTP by the test; real FFmpeg reads the hub (live HLS packager, recorder, stream copy).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from gbkit import NVR, PASSWORD, PLATFORM, until
from hubkit import CAM, add_channel, copied, copy_video, frames_of, source_url
from sippkit import SIPP, sipp_args, start_sipp
from sqlalchemy import select

from vigil.gb28181.hub import MediaHub, hub_url
from vigil.gb28181.media import frame_rfc4571
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import ps_stream, rtp_packets
from vigil.video.live import LiveConfig, LiveManager
from vigil.video.models import RecordingSegment
from vigil.video.recorder import Recorder, RecorderConfig

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


async def send_udp(port: int, packets: list[bytes], seconds: float) -> None:
    """Send the packets over ``seconds``, as a camera sends its stream (in real time)."""
    loop = asyncio.get_running_loop()
    tx, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    t0 = loop.time()
    for i, pkt in enumerate(packets):
        tx.sendto(pkt, ("127.0.0.1", port))
        await asyncio.sleep(max(0.0, t0 + seconds * i / len(packets) - loop.time()))
    tx.close()


@contextlib.asynccontextmanager
async def registrar(v, tmp_path, transport: str, *, mport: int = 0):
    """A registrar with its media hub, and SIPp registered as the NVR (answering one INVITE)."""
    srv = GbServer(v, GbConfig(platform_id=PLATFORM, port=0, query_on_register=False))
    await srv.start()
    hub = MediaHub(srv, transport=transport)
    await hub.start()
    scenario = "device_ooc_invite_tcp.xml" if transport == "tcp-active" else "device_ooc_invite.xml"
    proc = await start_sipp(sipp_args(srv.port, NVR, PASSWORD, tmp_path, ooc=scenario, pause_ms=20_000,
                                      keys={"mport": str(mport)}))
    try:
        assert await until(lambda: NVR in srv.registrar.sessions, 10)
        add_channel(v)
        yield srv, hub
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await hub.stop()
        await srv.stop()


async def test_live_view_and_recorder_share_one_invite_and_bye_follows_the_last_reader(gb_vigil, tmp_path):
    source = ps_stream(60, noise=True, gop=10)
    async with registrar(gb_vigil, tmp_path, "udp") as (srv, hub):
        url = source_url(gb_vigil)
        assert url == hub_url(gb_vigil.settings.home / "run", CAM) and url.startswith("http://127.0.0.1:")
        recorder = Recorder(gb_vigil, RecorderConfig(segment_s=1.0, retention_every_s=60), camera_ids=[CAM])
        stop = asyncio.Event()
        rec_task = asyncio.create_task(recorder.run(stop))
        assert await until(lambda: hub.readers(CAM) == 1, 10)
        live = LiveManager(LiveConfig(hls_time_s=1.0, idle_s=60, start_timeout_s=20), run_dir=tmp_path / "run")
        playlist = asyncio.create_task(asyncio.to_thread(live.playlist, CAM, url))
        assert await until(lambda: hub.readers(CAM) == 2, 10)
        assert hub.invites == 1  # the second reader shares the first one's stream
        st = hub.streams[CAM]
        # 6 s of video in real time, with the device's own SSRC (not the y= asked for)
        sender = asyncio.create_task(send_udp(st.media_port, rtp_packets(source, 999999999), 6.0))
        index = await asyncio.wait_for(playlist, 25)
        segment = sorted(index.parent.glob("seg*.ts"))[0]
        assert copied(frames_of(segment), frames_of(source)), "live view re-encoded or lost the stream"
        for pid in live.pids():  # the hub's key reaches FFmpeg on stdin, never in its command line
            assert hub.key.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert st.receiver.ssrc_mismatch and st.receiver.lost == 0

        await asyncio.to_thread(live.stop, CAM)  # the live view's idle reaper does this for nobody watching
        assert await until(lambda: hub.readers(CAM) == 1, 10)
        assert hub.byes == 0 and CAM in hub.streams  # the recorder still reads
        await asyncio.sleep(1.5)  # recorder segments of 1 s close
        stop.set()
        await asyncio.wait_for(rec_task, 30)
        sender.cancel()
        assert await until(lambda: hub.byes == 1, 10)
        assert hub.bye_ok == 1 and CAM not in hub.streams  # SIPp answered the BYE with 200
        with gb_vigil.db.session() as s:
            paths = s.scalars(select(RecordingSegment.path).where(RecordingSegment.camera_id == CAM)).all()
        assert paths and copied(frames_of(sorted(paths)[0]), frames_of(source))


async def test_tcp_active_media_connects_to_the_device(gb_vigil, tmp_path):
    source = ps_stream(20, noise=True, gop=10)
    connected = asyncio.Event()

    async def device_media(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        connected.set()
        for pkt in rtp_packets(source, 999999999):
            w.write(frame_rfc4571(pkt))  # RFC 4571: 2-byte length, then the RTP packet
        await w.drain()
        await asyncio.sleep(10)
        w.close()

    listener = await asyncio.start_server(device_media, "127.0.0.1", 0)
    mport = listener.sockets[0].getsockname()[1]
    async with registrar(gb_vigil, tmp_path, "tcp-active", mport=mport) as (_, hub):
        frames = await copy_video(source_url(gb_vigil), tmp_path / "copy.mkv", 15)
        assert connected.is_set() and hub.invites == 1
        assert len(frames) == 15 and copied(frames, frames_of(source))
        assert await until(lambda: hub.bye_ok == 1, 10)  # FFmpeg left: the last reader, so BYE
    listener.close()
