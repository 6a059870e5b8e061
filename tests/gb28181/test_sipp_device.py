"""A real SIP peer: SIPp (Debian sip-tester) plays a GB/T 28181 NVR against the registrar."""

from __future__ import annotations

import asyncio

import pytest
from gbkit import NVR, PASSWORD, PLATFORM, until
from sippkit import HERE, SIPP, finish_sipp, free_udp_port, run_sipp, sipp_args, start_sipp
from sqlalchemy import select

from vigil.core.errors import NotReadyError
from vigil.core.models import AuditEntry, Camera
from vigil.federation.links import parse_rules
from vigil.gb28181 import store
from vigil.gb28181.cascade import UpperConfig
from vigil.gb28181.media import RtpPsReceiver, demux_ps
from vigil.gb28181.models import GbDevice
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import ps_stream, rtp_packets
from vigil.gb28181.upper import UpperLink

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


async def test_sipp_nvr_registers_keeps_alive_and_its_catalog_joins_the_registry(gb_server, gb_vigil, tmp_path):
    rc, log = await run_sipp(gb_server.port, NVR, PASSWORD, tmp_path)
    assert rc == 0, log

    def cameras():
        with gb_vigil.db.session() as s:
            return {c.id: c.region_code for c in s.scalars(select(Camera)).all()}

    assert await until(lambda: len(cameras()) == 2), gb_server.stats
    assert cameras() == {"34020000001310000001": "340200", "34020000001310000002": "340200"}
    await gb_server.flush()
    with gb_vigil.db.session() as s:
        dev = s.get(GbDevice, NVR)
        tree = {c.channel_id: c.parent_id for c in store.channels(s, NVR)}
        assert dev.online and dev.last_seen is not None and dev.transport == "UDP"
        assert dev.manufacturer == "SIPp" and dev.channel_count == 2
    assert tree == {"34020000001310000001": NVR, "34020000001310000002": NVR}
    assert gb_server.stats.keepalives >= 2


async def test_sipp_with_a_wrong_password_is_refused_and_changes_nothing(gb_server, gb_vigil, tmp_path):
    rc, log = await run_sipp(gb_server.port, NVR, "not-the-password", tmp_path)
    assert rc != 0
    assert "403" in log
    assert NVR not in gb_server.registrar.sessions
    await gb_server.flush()
    with gb_vigil.db.session() as s:
        assert not s.get(GbDevice, NVR).online


async def test_sipp_unknown_device_gets_403_and_an_audit_entry(gb_server, gb_vigil, tmp_path):
    stranger = "34020000001320000099"
    rc, log = await run_sipp(gb_server.port, stranger, PASSWORD, tmp_path)
    assert rc != 0 and "403" in log

    def refused():
        with gb_vigil.db.session() as s:
            return s.scalars(select(AuditEntry).where(AuditEntry.action == "gb.register.refused")).all()

    assert await until(refused, 5)
    entries = refused()
    assert [e.target for e in entries] == [stranger]
    assert entries[0].detail["reason"] == "unknown device"


async def test_sipp_answers_an_invite_with_its_own_ssrc_and_the_ps_stream_demuxes(gb_vigil, tmp_path):
    srv = GbServer(gb_vigil, GbConfig(platform_id=PLATFORM, port=0, query_on_register=False))
    await srv.start()
    loop = asyncio.get_running_loop()
    ps = bytearray()
    rtp, receiver = await loop.create_datagram_endpoint(lambda: RtpPsReceiver(ps.extend),
                                                        local_addr=("127.0.0.1", 0))
    proc = await start_sipp(sipp_args(srv.port, NVR, PASSWORD, tmp_path, ooc="device_ooc_invite.xml", pause_ms=3500))
    try:
        assert await until(lambda: NVR in srv.registrar.sessions, 10)
        cam = "34020000001310000001"
        d = await srv.invite(NVR, cam, "127.0.0.1", rtp.get_extra_info("sockname")[1])
        receiver.expected_ssrc = int(d.ssrc)
        assert d.answer.ssrc == "0999999999" != d.ssrc and d.ssrc.startswith("0" + PLATFORM[3:8])
        assert d.answer.payload_types == (96,) and d.answer.transport == "UDP"
        # the device's media: FFmpeg-muxed PS (no PSM), a >64 KB IDR, sent with the device's own SSRC
        source = ps_stream(4, width=640, height=480, noise=True)
        packets = rtp_packets(source, int(d.answer.ssrc))
        media, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        for i, pkt in enumerate(packets):
            media.sendto(pkt, rtp.get_extra_info("sockname"))
            if i % 20 == 0:
                await asyncio.sleep(0.002)
        media.close()
        assert await until(lambda: receiver.received + receiver.dropped >= len(packets) - 5, 5)
        receiver.flush()
        assert receiver.ssrc_mismatch and receiver.dropped == 0
        summary = demux_ps(bytes(ps))
        assert (summary.video_codec, summary.width, summary.height) == ("h264", 640, 480)
        assert summary.keyframes >= 1 and summary.video_packets >= 3
        assert await srv.bye(d)
        rc, log = await finish_sipp(proc, tmp_path)
        assert rc == 0, log
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        rtp.close()
        await srv.stop()


@pytest.mark.parametrize("password, registered", [(PASSWORD, True), ("wrong", False)])
async def test_sipp_as_a_third_party_upper_platform_checks_our_digest(tmp_path, password, registered):
    upper_id, local = "34000000002000000001", "34020000002000000009"
    port = free_udp_port()
    proc = await start_sipp([SIPP, "-sf", str(HERE / "upper_uas.xml"), "-i", "127.0.0.1", "-p", str(port), "-m", "1",
                         "-key", "domain", upper_id[:10], "-key", "user", local, "-key", "pass", PASSWORD,
                         "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err", "-error_file",
                         str(tmp_path / "err.log")])
    await asyncio.sleep(0.3)  # sipp binds its port
    link = UpperLink(UpperConfig(upper_id, "127.0.0.1", port, local, password, 3600, 0.3, parse_rules("all")),
                     None, retry=30, jitter=0)
    task = asyncio.create_task(link.run())
    try:
        rc, log = await asyncio.wait_for(finish_sipp(proc, tmp_path), 25)
        assert rc == 0, log
        assert link.registered is registered and link.registrations == int(registered)
    finally:
        task.cancel()
        link.close()


async def test_a_slow_device_that_said_100_trying_is_waited_for_past_the_query_timeout(gb_vigil, tmp_path):
    """SIPp answers 100 at once and 200 after 2.5 s; the platform's 1 s query timeout must not cut it off."""
    srv = GbServer(gb_vigil, GbConfig(port=0, query_on_register=False, query_timeout=1.0, invite_timeout=10.0))
    await srv.start()
    proc = await start_sipp(sipp_args(srv.port, NVR, PASSWORD, tmp_path, ooc="device_ooc_invite_slow.xml",
                                      pause_ms=6000))
    try:
        assert await until(lambda: NVR in srv.registrar.sessions, 10)
        t0 = asyncio.get_running_loop().time()
        d = await srv.invite(NVR, "34020000001310000001", "127.0.0.1", 9)
        assert asyncio.get_running_loop().time() - t0 >= 2.0  # it really waited past the 1 s query timeout
        assert d.answer.ssrc == "0999999999"
        assert await srv.bye(d)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await srv.stop()


async def test_a_device_that_never_answers_an_invite_fails_after_the_query_timeout(gb_vigil, tmp_path):
    """Without a provisional answer the INVITE gives up after the query timeout, not Timer B."""
    srv = GbServer(gb_vigil, GbConfig(port=0, query_on_register=False, query_timeout=1.0, invite_timeout=30.0))
    await srv.start()
    proc = await start_sipp(sipp_args(srv.port, NVR, PASSWORD, tmp_path, pause_ms=6000))  # ignores INVITE
    try:
        assert await until(lambda: NVR in srv.registrar.sessions, 10)
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(NotReadyError, match="no answer"):
            await srv.invite(NVR, "34020000001310000001", "127.0.0.1", 9)
        assert asyncio.get_running_loop().time() - t0 < 10  # not the 30 s an answered INVITE may take
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await srv.stop()
