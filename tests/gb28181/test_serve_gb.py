"""``vigil serve --gb``: the registrar (and its media hub) inside the API server; SIPp plays the NVR."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

import pytest
from gbkit import NVR, PASSWORD, PLATFORM, until
from sippkit import SIPP, free_udp_port, run_sipp
from sqlalchemy import select

from vigil.core.models import Camera
from vigil.gb28181.hub import HUB_FILE
from vigil.gb28181.models import GbDevice

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


def _tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # about 15 s: the whole server starts, and SIPp's device scenario takes 3 s
async def test_vigil_serve_gb_runs_the_registrar_a_sipp_device_registers_and_it_stops_cleanly(gb_vigil, tmp_path):
    gb_port, hub_file = free_udp_port(), gb_vigil.settings.home / "run" / HUB_FILE
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vigil", "serve", "--port", str(_tcp_port()), "--no-scheduler", "--no-analytics",
        "--gb", "--gb-port", str(gb_port), "--gb-id", PLATFORM, "--db", gb_vigil.settings.db_url,
        "--home", str(gb_vigil.settings.home), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert await until(lambda: hub_file.exists() or proc.returncode is not None, 60), "vigil serve --gb not up"
        assert json.loads(hub_file.read_text())["url"].startswith("http://127.0.0.1:")  # loopback by default
        rc, log = await run_sipp(gb_port, NVR, PASSWORD, tmp_path)  # REGISTER (digest), keepalives, queries
        assert rc == 0, log

        def cameras() -> set[str]:
            with gb_vigil.db.session() as s:
                return set(s.scalars(select(Camera.id)).all())

        assert await until(lambda: len(cameras()) == 2, 15)  # its catalog, asked for on register
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)  # how a service manager stops it
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    # uvicorn shuts down gracefully (services stopped), then re-raises the signal
    assert proc.returncode in (0, -signal.SIGTERM) and b"Traceback" not in out, out[-2000:]
    assert b"GB/T 28181 registrar: udp+tcp 127.0.0.1:" in out
    assert not hub_file.exists()  # the hub withdrew its address on the way out
    with gb_vigil.db.session() as s:
        dev = s.get(GbDevice, NVR)
        assert dev.registered_at is not None and dev.transport == "UDP" and dev.manufacturer == "SIPp"
