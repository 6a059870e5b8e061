"""A real SIP peer: SIPp (Debian sip-tester) plays a GB/T 28181 NVR against the registrar."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest
from gbkit import NVR, PASSWORD, PLATFORM
from sqlalchemy import select

from vigil.core.models import AuditEntry, Camera
from vigil.gb28181 import store
from vigil.gb28181.models import GbDevice

SIPP = shutil.which("sipp")
HERE = Path(__file__).parent / "sipp"
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _sipp(server_port: int, device: str, password: str, tmp: Path) -> tuple[int, str]:
    args = [SIPP, f"127.0.0.1:{server_port}", "-sf", str(HERE / "device_uac.xml"), "-oocsf",
            str(HERE / "device_ooc.xml"), "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-m", "1",
            "-key", "devid", device, "-key", "srvid", PLATFORM, "-key", "domain", PLATFORM[:10],
            "-au", device, "-ap", password, "-auth_uri", f"{PLATFORM}@{PLATFORM[:10]}",
            "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err", "-error_file", str(tmp / "err.log")]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, cwd=tmp)
    out, _ = await proc.communicate()
    errors = (tmp / "err.log").read_text(errors="replace") if (tmp / "err.log").exists() else ""
    return proc.returncode or 0, out.decode(errors="replace")[-2000:] + errors[-2000:]


async def _until(fn, seconds: float = 15.0):
    for _ in range(int(seconds / 0.1)):
        value = fn()
        if value:
            return value
        await asyncio.sleep(0.1)
    return fn()


async def test_sipp_nvr_registers_keeps_alive_and_its_catalog_joins_the_registry(gb_server, gb_vigil, tmp_path):
    rc, log = await _sipp(gb_server.port, NVR, PASSWORD, tmp_path)
    assert rc == 0, log

    def cameras():
        with gb_vigil.db.session() as s:
            return {c.id: c.region_code for c in s.scalars(select(Camera)).all()}

    assert await _until(lambda: len(cameras()) == 2), gb_server.stats
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
    rc, log = await _sipp(gb_server.port, NVR, "not-the-password", tmp_path)
    assert rc != 0
    assert "403" in log
    assert NVR not in gb_server.registrar.sessions
    await gb_server.flush()
    with gb_vigil.db.session() as s:
        assert not s.get(GbDevice, NVR).online


async def test_sipp_unknown_device_gets_403_and_an_audit_entry(gb_server, gb_vigil, tmp_path):
    stranger = "34020000001320000099"
    rc, log = await _sipp(gb_server.port, stranger, PASSWORD, tmp_path)
    assert rc != 0 and "403" in log

    def refused():
        with gb_vigil.db.session() as s:
            return s.scalars(select(AuditEntry).where(AuditEntry.action == "gb.register.refused")).all()

    entries = await _until(refused, 5)
    assert [e.target for e in entries] == [stranger]
    assert entries[0].detail["reason"] == "unknown device"
