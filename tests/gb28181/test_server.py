"""The registrar over real UDP and TCP sockets: catalogs into the registry, NOTIFY, abuse that changes nothing."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import tracemalloc

from gbkit import DEVICE, NVR, PASSWORD, PLATFORM, until
from sqlalchemy import select
from typer.testing import CliRunner

from vigil.cli import app
from vigil.core.models import Camera
from vigil.gb28181 import store
from vigil.gb28181.limits import BadPeers
from vigil.gb28181.manscdp import CatalogItem, build, catalog_items_xml
from vigil.gb28181.media import Rfc4571Framer, RtpPsReceiver, demux_ps, frame_rfc4571, serve_rtp_tcp
from vigil.gb28181.models import GbDevice
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import SimDevice, catalog_bodies, ps_stream, rtp_packets
from vigil.gb28181.sip import SipMessage, StreamParser

CAM = [f"340200000013100000{i:02d}" for i in range(1, 7)]
GROUP = "34020000002160000001"  # a virtual organisation under the NVR


def _tree() -> list[CatalogItem]:
    return [CatalogItem(GROUP, name="East gate group", parent_id=NVR, civil_code="340200"),
            CatalogItem(CAM[0], name="cam 1", parent_id=GROUP, civil_code="340200"),
            CatalogItem(CAM[1], name="cam 2", parent_id=GROUP, civil_code="3402"),
            CatalogItem(CAM[2], name="cam 3", parent_id=NVR, longitude=117.5, latitude=31.5),
            CatalogItem(CAM[3], name="cam 4", parent_id=NVR, civil_code="340200"),
            CatalogItem(CAM[4], name="cam 5", parent_id=NVR, civil_code="340200"),
            CatalogItem(CAM[5], name="cam 6", parent_id=NVR, civil_code="340200")]




def _cameras(v):
    with v.db.session() as s:
        return {c.id: (c.region_code, c.lon, c.lat) for c in s.scalars(select(Camera)).all()}


async def test_a_catalog_in_broken_out_of_order_parts_keeps_the_tree_and_reports_what_is_missing(gb_server, gb_vigil):
    def parts(sn):
        one = catalog_bodies(NVR, sn, _tree(), per_part=2)  # 4 parts of 2, 2, 2, 1 items
        broken = one[1].replace(b"<Name>cam 2</Name>", b"<Name>cam & 2</Name>")  # one bad item in part 2
        return [one[3], broken, one[0]]  # out of order; part 3 (cams 4, 5) never comes

    dev = SimDevice(NVR, PASSWORD, ("127.0.0.1", gb_server.port), catalog_parts=parts)
    await dev.start()
    try:
        assert await dev.register() == 200
        assert await until(lambda: len(_cameras(gb_vigil)) == 3)
        result = gb_server.stats.catalogs[-1]
        assert not result.complete and result.missing == 3 and result.bad_items == 1 and result.parts == 3
        cams = _cameras(gb_vigil)
        assert cams[CAM[0]] == ("340200", 117.1, 31.1)  # civil code region, its position
        assert cams[CAM[2]] == ("340200", 117.5, 31.5)  # no civil code: from its ID; its own position
        assert CAM[5] in cams and CAM[1] not in cams and CAM[3] not in cams
        with gb_vigil.db.session() as s:
            tree = {c.channel_id: (c.parent_id, c.kind, c.camera_id) for c in store.channels(s, NVR)}
            assert s.get(GbDevice, NVR).manufacturer == "Vigil"
        assert tree[GROUP] == (NVR, "directory", None) and tree[CAM[0]] == (GROUP, "camera", CAM[0])
    finally:
        dev.close()


async def test_catalog_notify_adds_turns_off_and_deletes_channels(gb_server, gb_vigil):
    dev = SimDevice(NVR, PASSWORD, ("127.0.0.1", gb_server.port), items=_tree()[:2])
    await dev.start()
    try:
        assert await dev.register() == 200
        assert await until(lambda: CAM[0] in _cameras(gb_vigil))

        async def notify(event, cid):
            raw = catalog_items_xml([CatalogItem(cid, name="new", civil_code="340200")])
            raw = raw.replace("</Item>", f"<Event>{event}</Event></Item>")
            body = build("Notify", "Catalog", 99, NVR, {"SumNum": "1"}, raw=raw)
            heads = dev._headers("NOTIFY", PLATFORM, "n-1") + [("Event", "Catalog"),
                                                                ("Content-Type", "Application/MANSCDP+xml")]
            resp = await dev.request(SipMessage(method="NOTIFY", uri=f"sip:{PLATFORM}@3402000000", headers=heads,
                                                body=body))
            assert resp.status == 200

        def channel(cid):
            with gb_vigil.db.session() as s:
                return {c.channel_id: c.status for c in store.channels(s, NVR)}.get(cid)

        await notify("ADD", CAM[4])
        assert await until(lambda: CAM[4] in _cameras(gb_vigil))
        await notify("OFF", CAM[0])
        assert await until(lambda: channel(CAM[0]) == "OFF")
        await notify("DEL", CAM[0])
        assert await until(lambda: channel(CAM[0]) is None)
        assert CAM[0] in _cameras(gb_vigil)  # the registry keeps the camera
    finally:
        dev.close()


async def test_register_and_keepalive_over_tcp(gb_server):
    sim = SimDevice(DEVICE, PASSWORD, ("127.0.0.1", gb_server.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", gb_server.port)
    sim.transport = type("T", (), {"get_extra_info": lambda self, _n: writer.get_extra_info("sockname")})()
    sim._call = "tcp-1@127.0.0.1"
    framer = StreamParser()

    async def ask(msg):
        writer.write(msg.to_bytes())
        while True:
            got = framer.feed(await asyncio.wait_for(reader.read(65536), 5))
            if got:
                return got[0]

    first = await ask(sim.register_request())
    assert first.status == 401
    ok = await ask(sim.register_request(3600, sim.authorization(first.get("WWW-Authenticate"))))
    assert ok.status == 200 and gb_server.registrar.sessions[DEVICE].peer.transport == "TCP"
    assert (await ask(sim.keepalive_request())).status == 200
    writer.close()


async def test_floods_garbage_lying_lengths_and_wrong_digests_change_nothing(gb_server, caplog):
    caplog.set_level(logging.WARNING, "vigil.gb28181")
    loop = asyncio.get_running_loop()
    wrong = SimDevice(DEVICE, "wrong", ("127.0.0.1", gb_server.port))
    await wrong.start()
    statuses = [await wrong.register() for _ in range(3)]
    assert statuses == [403, 403, 403] and gb_server.registrar.sessions == {}
    flood, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    flood_addr = flood.get_extra_info("sockname")[:2]
    liar = (b"MESSAGE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 1\r\nFrom: <sip:1@d>\r\nTo: <sip:2@d>\r\nCall-ID: c\r\n"
            b"CSeq: 1 MESSAGE\r\nContent-Length: 60000\r\n\r\n<Notify/>")
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(3000):
        flood.sendto([liar, b"\x00" * (i % 1500), b"INVITE\r\n\r\n"][i % 3], ("127.0.0.1", gb_server.port))
        if i % 200 == 0:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    flood.close()
    assert gb_server.registrar.sessions == {} and gb_server.registrar.take_dirty() == []
    st = gb_server.stats  # loopback may drop some datagrams; each one that came was refused
    assert st.received > 1000 and st.parse_errors + st.rate_limited + st.muted == st.received - 6
    assert gb_server.stats.muted > 0 and len(gb_server.bad) <= 3 and len(gb_server.limiter) <= 3
    assert gb_server.bad.muted(*flood_addr) and not gb_server.bad.muted(*wrong.local)  # only the flooder
    assert grown < 2_000_000, grown
    logged = [r for r in caplog.records if "127.0.0.1" in r.getMessage()]
    assert len(logged) == 2  # the flooder and the wrong password: each logged once a window
    assert await wrong.keepalive() == 403  # its neighbour on the same host is still answered
    wrong.close()
    good = SimDevice(DEVICE, PASSWORD, ("127.0.0.1", gb_server.port))
    await good.start(0)
    assert await good.register() == 200 and await good.keepalive() == 200
    good.close()


def test_bad_peers_are_muted_per_source_and_a_host_only_when_it_sprays_many_sources():
    now = [0.0]
    bad = BadPeers(threshold=3, host_threshold=10, window=60, limit=100, clock=lambda: now[0])
    for _ in range(3):
        bad.strike("10.0.0.1", 5060, "x")
    assert bad.muted("10.0.0.1", 5060) and not bad.muted("10.0.0.1", 5061) and bad.logged == 1
    for port in range(7):
        bad.strike("10.0.0.1", 6000 + port, "x")
    assert bad.muted("10.0.0.1", 9999) and not bad.muted("10.0.0.2", 5060)  # 10 from one host: all of it
    now[0] = 61
    assert not bad.muted("10.0.0.1", 5060)
    for port in range(500):
        bad.strike("10.0.0.3", port, "x")
    assert len(bad) <= 100


def test_cli_device_add_seals_the_password_and_lists_devices(gb_vigil, monkeypatch):
    runner = CliRunner()
    db = gb_vigil.settings.db_url
    home = str(gb_vigil.settings.home)
    monkeypatch.setenv("VIGIL_GB_PASSWORD", "s3cret-pw")
    r = runner.invoke(app, ["gb", "device", "add", "34020000001320000005", "--allow", "127.0.0.1",
                            "--db", db, "--home", home])
    assert r.exit_code == 0, r.output
    with gb_vigil.db.session() as s:
        row = s.get(GbDevice, "34020000001320000005")
        assert row.region_code == "340200" and row.allowed_hosts == "127.0.0.1"
        assert b"s3cret" not in row.password_enc and gb_vigil.box.open(row.password_enc) == "s3cret-pw"
    again = runner.invoke(app, ["gb", "device", "add", "34020000001320000005", "--db", db, "--home", home])
    assert again.exit_code == 2 and "already configured" in again.output
    bad = runner.invoke(app, ["gb", "device", "add", "123", "--db", db, "--home", home])
    assert bad.exit_code == 2 and "expected 20" in bad.output and "Traceback" not in bad.output
    listed = runner.invoke(app, ["gb", "device", "list", "--db", db, "--home", home])
    assert "34020000001320000005" in listed.output and "s3cret" not in listed.output


async def test_an_active_probe_without_answer_takes_the_device_offline(gb_vigil):
    srv = GbServer(gb_vigil, GbConfig(platform_id=PLATFORM, port=0, query_on_register=False, query_timeout=0.5))
    await srv.start()
    dev = SimDevice(DEVICE, PASSWORD, ("127.0.0.1", srv.port))
    await dev.start()
    try:
        assert await dev.register() == 200
        assert await srv.probe(DEVICE) and srv.registrar.sessions[DEVICE].online
        dev.transport.pause_reading()  # the device stops answering
        assert not await srv.probe(DEVICE)
        assert not srv.registrar.sessions[DEVICE].online and srv.stats.offline == 1
    finally:
        dev.close()
        await srv.stop()


def test_cli_upper_add_and_list(gb_vigil, monkeypatch):
    runner = CliRunner()
    opts = ["--db", gb_vigil.settings.db_url, "--home", str(gb_vigil.settings.home)]
    monkeypatch.setenv("VIGIL_GB_UPPER_PASSWORD", "up-pw")
    r = runner.invoke(app, ["gb", "upper", "add", "34000000002000000001", "--host", "127.0.0.1", "--port", "5999",
                            "--share", "regions=340200;kinds=public_area", *opts])
    assert r.exit_code == 0, r.output
    listed = runner.invoke(app, ["gb", "upper", "list", *opts]).output
    assert "34000000002000000001" in listed and "340200" in listed and "up-pw" not in listed
    assert "not registered" in listed and "0 shared channel(s)" in listed  # no link has run; no camera yet
    bad = runner.invoke(app, ["gb", "upper", "add", "34000000002000000002", "--host", "h", "--share", "nope=1",
                              *opts])
    assert bad.exit_code == 2 and "unknown rule" in bad.output


async def test_vigil_gb_serve_runs_a_registrar_and_stops_cleanly_on_interrupt(gb_vigil, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vigil", "gb", "serve", "--port", str(port), "--id", PLATFORM, "--db",
        gb_vigil.settings.db_url, "--home", str(gb_vigil.settings.home), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert b"registrar" in line and str(port).encode() in line
        dev = SimDevice(DEVICE, PASSWORD, ("127.0.0.1", port))
        await dev.start()
        status = (await dev.register(timeout=20), await dev.keepalive(timeout=20))
        dev.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert status == (200, 200), out[-2000:]
    assert proc.returncode == 0 and b"Traceback" not in out, out[-2000:]


def test_cli_device_import_adds_all_rows_or_none(gb_vigil, tmp_path):
    runner = CliRunner()
    opts = ["--db", gb_vigil.settings.db_url, "--home", str(gb_vigil.settings.home)]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,password,region,allow\n34020000001320000011,pw-a,340200,\n123,pw-b,,\n"
                   "34020000001320000012,,9999,\n", encoding="utf-8")
    r = runner.invoke(app, ["gb", "device", "import", str(bad), *opts])
    assert r.exit_code == 2 and "line 3: id" in r.output and "line 4: password" in r.output
    assert "line 4: region" in r.output and "pw-a" not in r.output
    good = tmp_path / "good.csv"
    good.write_text("id,password,allow,name\n34020000001320000011,pw-a,127.0.0.1;127.0.0.2,东门\n"
                    "34020000001320000012,pw-b,,\n", encoding="utf-8")
    r = runner.invoke(app, ["gb", "device", "import", str(good), *opts])
    assert r.exit_code == 0, r.output
    with gb_vigil.db.session() as s:
        row = s.get(GbDevice, "34020000001320000011")
        assert row.allowed_hosts == "127.0.0.1,127.0.0.2" and row.name == "东门"
        assert gb_vigil.box.open(s.get(GbDevice, "34020000001320000012").password_enc) == "pw-b"


async def test_tcp_passive_media_rfc4571_from_a_device_that_connects(gb_server):
    dev = SimDevice(NVR, PASSWORD, ("127.0.0.1", gb_server.port))
    dev.media = ps_stream(4, width=640, height=480, noise=True)
    await dev.start()
    ps = bytearray()
    receiver = RtpPsReceiver(ps.extend)
    listener, port = await serve_rtp_tcp(receiver)
    try:
        assert await dev.register() == 200
        d = await gb_server.invite(NVR, CAM[0], "127.0.0.1", port, tcp="passive")
        assert d.answer.transport == "TCP" and d.answer.setup == "active"
        n = len(rtp_packets(dev.media, 1))
        assert await until(lambda: receiver.received == n)  # TCP: nothing lost, nothing reordered
        receiver.flush()
        assert bytes(ps) == dev.media and receiver.lost == 0
        assert demux_ps(bytes(ps)).video_codec == "h264"
        assert await gb_server.bye(d)
    finally:
        listener.close()
        dev.close()


def test_rfc4571_framing_across_any_cut():
    pkts = rtp_packets(ps_stream(3), 7, size=300)
    stream = b"".join(frame_rfc4571(p) for p in pkts)
    for cut in (1, 2, 3, 301, len(stream) - 1):
        f = Rfc4571Framer()
        assert f.feed(stream[:cut]) + f.feed(stream[cut:]) == pkts
