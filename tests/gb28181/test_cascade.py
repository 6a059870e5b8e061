"""Cascade: Vigil registers to an upper platform (another Vigil's registrar) and shows it the shared catalog."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from gbkit import LOCAL, NVR, PASSWORD, until
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.core.errors import NotReadyError
from vigil.core.models import AuditEntry, Camera, Region
from vigil.federation.links import parse_rules
from vigil.gb28181 import cascade, store, views
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.media import RtpPsReceiver, demux_ps
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import SimDevice, ps_stream, rtp_packets
from vigil.gb28181.upper import UpperLink
from vigil.health.models import CameraStatus

sys.path.insert(0, str(Path(__file__).parents[1] / "video"))
from video_helpers import RtspServer  # noqa: E402  (the video tests' real RTSP server)

UPPER = "34000000002000000001"
GROUP = "34020000002160000001"
CAM1, CAM2, PLAIN, OUTSIDE = ("34020000001310000001", "34020000001310000002", "34020000001320000077",
                              "34030000001320000001")


@pytest.fixture
def lower(gb_vigil):
    with gb_vigil.db.session() as s:
        s.add(Region(code="3403", name="Elsewhere", level=1))
        s.flush()
        store.apply_catalog(s, NVR, [CatalogItem(GROUP, name="East group", parent_id=NVR, civil_code="340200"),
                                     CatalogItem(CAM1, name="cam 1", parent_id=GROUP, civil_code="340200"),
                                     CatalogItem(CAM2, name="cam 2", parent_id=NVR, civil_code="3402")])
        s.add(Camera(id=PLAIN, name="plain", region_code="340200", lon=117.3, lat=31.3))
        s.add(Camera(id=OUTSIDE, name="not shared", region_code="3403", lon=118.0, lat=32.0))
    return gb_vigil


def test_the_shared_catalog_keeps_the_tree_and_the_rules(lower):
    with lower.db.session() as s:
        items = {i.device_id: i for i in cascade.shared_catalog(s, parse_rules("regions=3402"), actor=UPPER)}
    assert set(items) == {"3402", "340200", GROUP, CAM1, CAM2, PLAIN}
    assert items["340200"].parent_id == "3402" and items[GROUP].parent_id == "340200"
    assert items[CAM1].parent_id == GROUP and items[CAM2].parent_id == "3402" and items[PLAIN].parent_id == "340200"
    assert items[PLAIN].civil_code == "340200" and items[PLAIN].longitude == 117.3
    with lower.db.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "gb.upper.catalog")).target == UPPER
        everything = {i.device_id for i in cascade.shared_catalog(s, parse_rules("all"))}
    assert OUTSIDE in everything and "3403" in everything




def test_an_upper_link_is_shown_to_users_whose_regions_hold_all_it_shares(lower):
    with lower.db.session() as s:
        for uid, rules in ((UPPER, "regions=340200"), ("34000000002000000002", "all")):
            cascade.add_upper(s, lower.box, uid, host="127.0.0.1", port=5060, password=PASSWORD, local_id=LOCAL,
                              rules=parse_rules(rules), actor="test")
    with lower.db.session() as s:
        def ids(*codes: str) -> list[str]:
            return [u.id for u in views.uppers(s, Scope.of(codes))]

        assert ids("3402", "3403") == [UPPER, "34000000002000000002"]  # "all" needs both root regions
        assert ids("3402") == [UPPER] and ids("340200") == [UPPER] and ids("34020001") == [] and ids("3403") == []
        assert views.uppers(s, Scope.of(["3402"]))[0].shared_channels == 2  # CAM1 and PLAIN; CAM2 is in 3402


async def _shut(task, link, upper):
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await link.stop()
    await upper.stop()


async def test_vigil_registers_upward_answers_the_catalog_and_comes_back_after_failures(lower, upper_vigil):
    up_cfg = GbConfig(platform_id=UPPER, port=0, keepalive_interval=0.3, flush_interval=0.2, catalog_idle=2.0)
    upper = GbServer(upper_vigil, up_cfg)
    await upper.start()
    with lower.db.session() as s:  # the configured link, where the running one reports its state
        cascade.add_upper(s, lower.box, UPPER, host="127.0.0.1", port=upper.port, password=PASSWORD, local_id=LOCAL,
                          rules=parse_rules("regions=3402"), actor="test")
    cfg = cascade.UpperConfig(UPPER, "127.0.0.1", upper.port, LOCAL, PASSWORD, 60, 0.3, parse_rules("regions=3402"))
    link = UpperLink(cfg, lower, retry=0.2, jitter=0.1)
    task = asyncio.create_task(link.run())

    def shown():  # what the console is told about the link
        with lower.db.session() as s:
            return views.uppers(s, Scope.everything())[0]

    try:
        def upper_cameras():
            with upper_vigil.db.session() as s:
                return {c.id: c.region_code for c in s.scalars(select(Camera)).all()}

        assert await until(lambda: len(upper_cameras()) == 3)
        assert upper_cameras() == {CAM1: "3402", CAM2: "3402", PLAIN: "3402"}  # the upper knows only 3402
        with upper_vigil.db.session() as s:
            tree = {c.channel_id: (c.parent_id, c.kind) for c in store.channels(s, LOCAL)}
        assert tree[CAM1] == (GROUP, "camera") and tree[GROUP] == ("340200", "directory")
        assert tree["340200"] == ("3402", "directory") and OUTSIDE not in tree
        seen = upper.registrar.sessions[LOCAL].last_alive
        assert await until(lambda: upper.registrar.sessions[LOCAL].last_alive > seen)  # keepalives arrive
        assert await until(lambda: shown().last_keepalive is not None)
        first = shown()
        assert first.registered and first.registered_at is not None and first.shared_channels == 3
        assert first.last_error == "" and PASSWORD not in first.model_dump_json()
        port = upper.port
        await upper.stop()  # the upper platform goes away: 3 keepalives fail
        assert await until(lambda: not link.registered)
        assert await until(lambda: not shown().registered)
        assert "keepalives unanswered" in shown().last_error
        upper = GbServer(upper_vigil, GbConfig(platform_id=UPPER, port=port, keepalive_interval=0.3,
                                               query_on_register=False))
        await upper.start()
        assert await until(lambda: link.registered and LOCAL in upper.registrar.sessions)
        assert link.registrations == 2
        assert await until(lambda: shown().registered and shown().last_error == "")
        assert shown().registered_at > first.registered_at
    finally:
        await _shut(task, link, upper)


async def test_a_catalog_subscription_gets_notifies_when_shared_cameras_change(lower, upper_vigil):
    upper = GbServer(upper_vigil, GbConfig(platform_id=UPPER, port=0, flush_interval=0.2, catalog_idle=2.0))
    await upper.start()
    cfg = cascade.UpperConfig(UPPER, "127.0.0.1", upper.port, LOCAL, PASSWORD, 60, 5, parse_rules("regions=3402"))
    link = UpperLink(cfg, lower, notify_interval=0.3)
    task = asyncio.create_task(link.run())

    def upper_view():
        with upper_vigil.db.session() as s:
            return {c.channel_id: c.status for c in store.channels(s, LOCAL)}

    try:
        assert await until(lambda: upper_view().get(PLAIN) == "ON")  # the first catalog is in
        base = upper.registrar.request(LOCAL, b"<Query/>", local=upper.address, method="SUBSCRIBE")
        base[0].set("Event", "Catalog")
        no_expires = await upper._transact(*base, 5)
        assert no_expires.status == 400 and "Expires" in no_expires.reason
        assert await upper.subscribe_catalog(LOCAL, expires=60)
        with lower.db.session() as s:
            s.add(Camera(id="34020000001320000088", name="new", region_code="340200", lon=117.0, lat=31.0))
            s.add(CameraStatus(camera_id=PLAIN, state="down"))
            s.delete(s.get(Camera, CAM2))
        assert await until(lambda: upper_view().get(PLAIN) == "OFF" and "34020000001320000088" in upper_view())
        assert CAM2 not in upper_view()
        with upper_vigil.db.session() as s:
            assert s.get(Camera, "34020000001320000088").region_code == "3402"
        assert link.notified == 3
    finally:
        await _shut(task, link, upper)


def test_catalog_changes_name_each_kind_of_change():
    a, b, c = (CatalogItem(x, name=x, status="ON") for x in ("1", "2", "3"))
    before = {i.device_id: i for i in (a, b, c)}
    after = [CatalogItem("1", name="1", status="OFF"), CatalogItem("2", name="renamed", status="ON"),
             CatalogItem("4", name="4", status="ON")]
    assert {(i.device_id, i.event) for i in cascade.catalog_changes(before, after)} == {
        ("1", "OFF"), ("2", "UPDATE"), ("3", "DEL"), ("4", "ADD")}


async def test_an_upper_invite_is_relayed_from_the_device_below_with_the_upper_ssrc(gb_vigil, upper_vigil):
    lower = GbServer(gb_vigil, GbConfig(platform_id="34020000002000000001", port=0, catalog_idle=2.0))
    await lower.start()
    nvr = SimDevice(NVR, PASSWORD, ("127.0.0.1", lower.port), items=[
        CatalogItem(CAM1, name="cam 1", parent_id=NVR, civil_code="340200")])
    nvr.media = ps_stream(4, width=640, height=480, noise=True)  # an IDR over 64 KB, no PSM
    await nvr.start()
    upper = GbServer(upper_vigil, GbConfig(platform_id=UPPER, port=0, catalog_idle=2.0))
    await upper.start()
    cfg = cascade.UpperConfig(UPPER, "127.0.0.1", upper.port, LOCAL, PASSWORD, 60, 5, parse_rules("regions=3402"))
    link = UpperLink(cfg, gb_vigil, source=lower)
    loop = asyncio.get_running_loop()
    ps = bytearray()
    rtp, receiver = await loop.create_datagram_endpoint(lambda: RtpPsReceiver(ps.extend),
                                                        local_addr=("127.0.0.1", 0))

    def knows(v):
        with v.db.session() as s:
            return s.get(Camera, CAM1) is not None

    assert await nvr.register() == 200
    assert await until(lambda: knows(gb_vigil))  # the device's catalog is in Vigil
    task = asyncio.create_task(link.run())
    try:

        assert await until(lambda: knows(upper_vigil))  # and goes up to the upper Vigil
        with pytest.raises(NotReadyError, match="404"):
            await upper.invite(LOCAL, OUTSIDE, "127.0.0.1", 9)
        d = await upper.invite(LOCAL, CAM1, "127.0.0.1", rtp.get_extra_info("sockname")[1])
        receiver.expected_ssrc = int(d.ssrc)
        assert d.answer.ssrc == d.ssrc  # the relay answers with the SSRC the upper asked for
        n = len(rtp_packets(nvr.media, 1))
        assert await until(lambda: receiver.received >= n - 3, 10)
        receiver.flush()
        assert not receiver.ssrc_mismatch and receiver.ssrc == int(d.ssrc)  # though the device used its own
        summary = demux_ps(bytes(ps))
        assert (summary.video_codec, summary.width, summary.height) == ("h264", 640, 480)
        assert await upper.bye(d) and await until(lambda: not link._streams)
        with gb_vigil.db.session() as s:
            assert s.scalar(select(AuditEntry).where(AuditEntry.action == "gb.upper.stream")).target == CAM1
    finally:
        rtp.close()
        nvr.close()
        await _shut(task, link, upper)
        await lower.stop()


def _mp4(path, seconds=3):
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10, options={"g": "10", "bf": "0"})
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        rng = np.random.default_rng(3)
        for _ in range(10 * seconds):
            img = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)  # noise: frames of tens of KB
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(s.encode())
    return path


async def test_an_upper_invite_for_an_rtsp_camera_is_remuxed_to_ps_with_the_upper_ssrc(lower, upper_vigil, tmp_path):
    rtsp = RtspServer(_mp4(tmp_path / "cam.mp4")).start()
    with lower.db.session() as s:
        s.get(Camera, PLAIN).main_url = rtsp.url
    source = GbServer(lower, GbConfig(port=0))
    await source.start()
    upper = GbServer(upper_vigil, GbConfig(platform_id=UPPER, port=0, catalog_idle=2.0))
    await upper.start()
    cfg = cascade.UpperConfig(UPPER, "127.0.0.1", upper.port, LOCAL, PASSWORD, 60, 5, parse_rules("regions=3402"))
    link = UpperLink(cfg, lower, source=source)
    task = asyncio.create_task(link.run())
    ps = bytearray()
    rtp, receiver = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: RtpPsReceiver(ps.extend), local_addr=("127.0.0.1", 0))
    try:
        def upper_knows():
            with upper_vigil.db.session() as s:
                return s.get(Camera, PLAIN) is not None

        assert await until(upper_knows)
        d = await upper.invite(LOCAL, PLAIN, "127.0.0.1", rtp.get_extra_info("sockname")[1])
        assert await until(lambda: receiver.received > 20, 10)
        assert await upper.bye(d)
        receiver.flush()
        assert receiver.ssrc == int(d.ssrc) and d.answer.ssrc == d.ssrc
        summary = demux_ps(bytes(ps))
        assert (summary.video_codec, summary.width, summary.height) == ("h264", 320, 240)  # copied, not re-encoded
        assert summary.keyframes >= 1
    finally:
        rtp.close()
        await _shut(task, link, upper)
        await source.stop()
        rtsp.kill()


async def test_the_upward_link_takes_requests_from_its_upper_platform_only(lower):
    cfg = cascade.UpperConfig(UPPER, "localhost", 9, LOCAL, PASSWORD, 60, 5, parse_rules("all"))
    link = UpperLink(cfg, lower)
    await link.start()
    assert link.server == ("127.0.0.1", 9)  # the name is resolved once
    answered = []

    async def record(msg):
        answered.append(msg.call_id)

    link._answer = record  # what would have been answered
    loop = asyncio.get_running_loop()
    socks = [(await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(h, 0)))[0]
             for h in ("127.0.0.2", "127.0.0.1")]
    try:
        sim = SimDevice(UPPER, PASSWORD, link.local)
        sim._call = "x@127.0.0.1"
        sim.transport = socks[0]
        for i, sock in enumerate(socks):
            msg = sim.keepalive_request()
            msg.set("Call-ID", f"from-{i}")
            sock.sendto(msg.to_bytes(), link.local)
        assert await until(lambda: answered, 2)
        await asyncio.sleep(0.1)
        assert answered == ["from-1"]  # the stranger at 127.0.0.2 was ignored
    finally:
        for sock in socks:
            sock.close()
        link.close()
