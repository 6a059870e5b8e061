"""Fixtures of the GB/T 28181 tests: an instance with regions and a configured device, a running registrar."""

from __future__ import annotations

import pytest
from gbkit import DEVICE, LOCAL, NVR, PASSWORD, PLATFORM

from vigil.core.context import Vigil
from vigil.core.models import Region
from vigil.gb28181 import store
from vigil.gb28181.server import GbConfig, GbServer


@pytest.fixture
def gb_vigil(sqlite_vigil):
    """An instance with prefecture 3402 and city 340200, and two devices allowed to register."""
    with sqlite_vigil.db.session() as s:
        s.add(Region(code="3402", name="Prefecture", level=1, lon=117.0, lat=31.0))
        s.flush()
        s.add(Region(code="340200", name="City", level=2, parent_code="3402", lon=117.1, lat=31.1))
        s.flush()
        store.add_device(s, sqlite_vigil.box, DEVICE, PASSWORD, actor="test")
        store.add_device(s, sqlite_vigil.box, NVR, PASSWORD, actor="test")
    return sqlite_vigil


@pytest.fixture
async def gb_server(gb_vigil):
    """A registrar on an ephemeral 127.0.0.1 port; fast liveness timers for tests."""
    srv = GbServer(gb_vigil, GbConfig(platform_id=PLATFORM, port=0, keepalive_interval=60, flush_interval=0.2,
                                      sweep_interval=0.2, catalog_idle=2.0, rate=200, burst=400))
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def upper_vigil(tmp_path):
    """A second instance playing the upper platform, where Vigil (as ``LOCAL``) may register."""
    v = Vigil.open(f"sqlite:///{tmp_path / 'upper.db'}", str(tmp_path / "upper-home"))
    with v.db.session() as s:
        s.add(Region(code="3402", name="Prefecture", level=1))
        s.flush()
        store.add_device(s, v.box, LOCAL, PASSWORD, actor="test", region="3402")
    yield v
    v.close()
