"""Cascade over TCP: an upper platform's ``TCP/RTP/AVP`` INVITE gets RTP/PS in RFC 4571 framing with its SSRC.

Peers: the upper platform is SIPp (Debian sip-tester, ``sipp/upper_invite_tcp.xml``) or another Vigil
registrar; its INVITE offers ``a=setup:passive`` with a port the test listens on, or ``a=setup:active``
and the test connects to the port in Vigil's answer. Below is a
simulated GB device sending PS over UDP, or a real RTSP server (the video tests' FFmpeg one). The
received bytes are parsed as RTP and the PS is demuxed by FFmpeg's ``mpeg`` demuxer (PyAV).
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from gbkit import LOCAL, NVR, PASSWORD, until
from sippkit import HERE, SIPP, finish_sipp, free_udp_port, start_sipp
from test_cascade import PLAIN, UPPER, RtspServer, _mp4, _shut, lower  # noqa: F401  (the shared catalog fixture)

from vigil.core.errors import NotReadyError
from vigil.core.models import Camera
from vigil.federation.links import parse_rules
from vigil.gb28181 import cascade
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.media import RtpPsReceiver, demux_ps, read_rtp_tcp
from vigil.gb28181.sdp import answer, parse_answer
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import SimDevice, ps_stream, rtp_packets
from vigil.gb28181.upper import UpperLink

CAM = "34020000001310000001"


class _TcpReceiver:
    """The upper platform's media side over TCP: listens (setup:passive) or connects (setup:active)."""

    def __init__(self) -> None:
        self.ps = bytearray()
        self.receiver = RtpPsReceiver(self.ps.extend)
        self.closed = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_rtp_tcp(reader, writer, self.receiver)
        self.closed.set()  # the sender closed the connection

    async def listen(self) -> int:
        self.server = await asyncio.start_server(self._read, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def connect(self, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        self.tasks.append(asyncio.get_running_loop().create_task(self._read(reader, writer)))

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for t in self.tasks:
            t.cancel()


async def _invite(upper: GbServer, channel: str, rx: _TcpReceiver, setup: str):
    port = await rx.listen() if setup == "passive" else 9
    d = await upper.invite(LOCAL, channel, "127.0.0.1", port, tcp=setup)
    assert d.answer.transport == "TCP" and d.answer.ssrc == d.ssrc
    # Vigil takes the other role; a=connection:new is in its answer
    assert d.answer.setup == {"passive": "active", "active": "passive"}[setup]
    if setup == "active":
        await rx.connect(d.answer.ip, d.answer.port)
    rx.receiver.expected_ssrc = int(d.ssrc)
    return d


async def _device_below(gb_vigil) -> tuple[GbServer, SimDevice]:
    """Vigil's registrar with a registered simulated NVR whose channel CAM sends PS over UDP."""
    registrar = GbServer(gb_vigil, GbConfig(platform_id="34020000002000000001", port=0, catalog_idle=2.0))
    await registrar.start()
    nvr = SimDevice(NVR, PASSWORD, ("127.0.0.1", registrar.port), items=[
        CatalogItem(CAM, name="cam 1", parent_id=NVR, civil_code="340200")])
    nvr.media = ps_stream(4, width=640, height=480, noise=True)  # an IDR over 64 KB: many packets per frame
    await nvr.start()

    def knows():
        with gb_vigil.db.session() as s:
            return s.get(Camera, CAM) is not None

    assert await nvr.register() == 200
    assert await until(knows)
    return registrar, nvr


async def _cascade(vigil, upper_vigil, source: GbServer, channel: str):
    """The upper Vigil registrar, and the running link up to it once the upper knows ``channel``."""
    upper = GbServer(upper_vigil, GbConfig(platform_id=UPPER, port=0, catalog_idle=2.0))
    await upper.start()
    cfg = cascade.UpperConfig(UPPER, "127.0.0.1", upper.port, LOCAL, PASSWORD, 60, 5, parse_rules("regions=3402"))
    link = UpperLink(cfg, vigil, source=source)
    task = asyncio.create_task(link.run())

    def knows():
        with upper_vigil.db.session() as s:
            return s.get(Camera, channel) is not None

    if not await until(knows):
        await _shut(task, link, upper)
        raise AssertionError(f"the upper never learnt {channel}")
    return upper, link, task


@pytest.mark.parametrize("setup", ["passive", "active"])
async def test_a_tcp_invite_is_relayed_from_the_device_below_with_rfc4571_framing(gb_vigil, upper_vigil, setup):
    registrar, nvr = await _device_below(gb_vigil)
    rx = _TcpReceiver()
    upper, link, task = await _cascade(gb_vigil, upper_vigil, registrar, CAM)
    try:
        d = await _invite(upper, CAM, rx, setup)
        n = len(rtp_packets(nvr.media, 1))
        assert await until(lambda: rx.receiver.received >= n - 3, 10)  # TCP loses none (held until connected)
        rx.receiver.flush()
        assert rx.receiver.ssrc == int(d.ssrc) and rx.receiver.lost == 0 and rx.receiver.dropped == 0
        summary = demux_ps(bytes(rx.ps))
        assert (summary.video_codec, summary.width, summary.height) == ("h264", 640, 480)
        assert summary.video_packets >= 3 and summary.keyframes >= 1
        assert await upper.bye(d)
        await asyncio.wait_for(rx.closed.wait(), 5)  # BYE closed the TCP connection
        assert not link._streams
    finally:
        rx.close()
        nvr.close()
        await _shut(task, link, upper)
        await registrar.stop()


async def test_a_tcp_active_invite_for_an_rtsp_camera_is_remuxed_to_framed_ps(lower, upper_vigil, tmp_path):  # noqa: F811
    rtsp = RtspServer(_mp4(tmp_path / "cam.mp4")).start()
    with lower.db.session() as s:
        s.get(Camera, PLAIN).main_url = rtsp.url
    source = GbServer(lower, GbConfig(port=0))
    await source.start()
    upper, link, task = await _cascade(lower, upper_vigil, source, PLAIN)
    rx = _TcpReceiver()
    try:
        d = await _invite(upper, PLAIN, rx, "active")
        assert await until(lambda: rx.receiver.received > 20, 10)
        assert await upper.bye(d)
        await asyncio.wait_for(rx.closed.wait(), 5)
        rx.receiver.flush()
        assert rx.receiver.ssrc == int(d.ssrc) and rx.receiver.lost == 0
        summary = demux_ps(bytes(rx.ps))
        assert (summary.video_codec, summary.width, summary.height) == ("h264", 320, 240)  # copied, not re-encoded
        assert summary.keyframes >= 1
    finally:
        rx.close()
        await _shut(task, link, upper)
        await source.stop()
        rtsp.kill()


async def test_a_tcp_invite_to_a_port_nobody_listens_on_is_refused_clearly(lower, upper_vigil):  # noqa: F811
    source = GbServer(lower, GbConfig(port=0))
    await source.start()
    with lower.db.session() as s:
        s.get(Camera, PLAIN).main_url = "rtsp://127.0.0.1:9/none"
    upper, link, task = await _cascade(lower, upper_vigil, source, PLAIN)
    try:
        with pytest.raises(NotReadyError, match="480 .*TCP media 127.0.0.1:9 refused"):
            await upper.invite(LOCAL, PLAIN, "127.0.0.1", 9, tcp="passive")  # the upper's port is closed
        with pytest.raises(NotReadyError, match="488 .*a=setup:holdconn"):
            await upper.invite(LOCAL, PLAIN, "127.0.0.1", 9, tcp="holdconn")  # a role that means nothing here
        assert not link._streams
    finally:
        await _shut(task, link, upper)
        await source.stop()


def test_the_answer_to_a_tcp_offer_names_the_other_role_and_a_new_connection():
    a = parse_answer(answer(LOCAL, "127.0.0.1", 40000, "0200000001", tcp="passive"))
    assert (a.transport, a.setup, a.port, a.ssrc) == ("TCP", "passive", 40000, "0200000001")
    assert "a=connection:new" in answer(LOCAL, "127.0.0.1", 40000, "0200000001", tcp="active")


def _sipp_answer(tmp) -> dict[str, str] | None:
    """What SIPp logged of Vigil's SDP answer (its -trace_logs file), once it has."""
    for f in tmp.glob("*_logs.log"):
        m = re.search(r"ANSWER port=(\d+) setup=(\w+) ssrc=(\d+)", f.read_text(errors="replace"))
        if m:
            return {"port": m[1], "setup": m[2], "ssrc": m[3]}
    return None


@pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")
@pytest.mark.parametrize("setup", ["passive", "active"])
async def test_sipp_as_a_third_party_upper_platform_gets_a_tcp_stream(gb_vigil, tmp_path, setup):
    registrar, nvr = await _device_below(gb_vigil)
    rx, ssrc, port = _TcpReceiver(), "0340200077", free_udp_port()
    mport = await rx.listen() if setup == "passive" else 9
    proc = await start_sipp([SIPP, "-sf", str(HERE / "upper_invite_tcp.xml"), "-i", "127.0.0.1", "-p", str(port),
                             "-m", "1", "-key", "domain", UPPER[:10], "-key", "upper", UPPER, "-key", "chan", CAM,
                             "-key", "ssrc", ssrc, "-key", "mport", str(mport), "-key", "setup", setup,
                             "-trace_logs", "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err",
                             "-error_file", str(tmp_path / "err.log")])
    await asyncio.sleep(0.3)  # sipp binds its port
    cfg = cascade.UpperConfig(UPPER, "127.0.0.1", port, LOCAL, PASSWORD, 3600, 60, parse_rules("regions=3402"))
    link = UpperLink(cfg, gb_vigil, source=registrar)
    task = asyncio.create_task(link.run())
    try:
        assert await until(lambda: _sipp_answer(tmp_path) is not None, 10)
        said = _sipp_answer(tmp_path)
        assert said["setup"] == {"passive": "active", "active": "passive"}[setup] and said["ssrc"] == ssrc
        if setup == "active":
            await rx.connect("127.0.0.1", int(said["port"]))
        await asyncio.wait_for(rx.closed.wait(), 10)  # SIPp's BYE (after 1 s) closed the connection
        rc, out = await asyncio.wait_for(finish_sipp(proc, tmp_path), 10)
        assert rc == 0, out
        rx.receiver.flush()
        assert rx.receiver.ssrc == int(ssrc) and rx.receiver.lost == 0 and not link._streams
        summary = demux_ps(bytes(rx.ps))
        assert (summary.video_codec, summary.width, summary.height) == ("h264", 640, 480)
        assert summary.video_packets >= 3 and summary.keyframes >= 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        rx.close()
        nvr.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.stop()
        await registrar.stop()
