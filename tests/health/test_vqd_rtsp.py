"""diagnose_camera against real RTSP cameras of the simulated fleet, with the registry's sealed credentials."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from vigil.core.errors import NotReadyError
from vigil.core.models import Region
from vigil.health.vqd import diagnose_camera
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_diagnose_camera_over_rtsp(sqlite_vigil):
    v = sqlite_vigil
    with v.db.session() as s:
        s.add(Region(code="5301", name="Prefecture", level=1))
    async with Fleet(2, streams=2, faults="1=auth") as fleet:
        ids = register_fleet(v, fleet.manifest()["cameras"], region="5301")
        healthy = await asyncio.to_thread(diagnose_camera, v, ids[0], now=T0, n=2)
        assert healthy.faults == () and healthy.metrics["frames"] == 2, healthy.explanation
        await fleet.set_faults(0, ["covered"])          # the picture changes while the camera runs
        covered = await asyncio.to_thread(diagnose_camera, v, ids[0], now=T0, n=2)
        assert covered.faults == ("covered",), covered.explanation
        # camera 1 no longer accepts the stored password: an outage to retry, not a picture fault
        with pytest.raises(NotReadyError) as exc:
            await asyncio.to_thread(diagnose_camera, v, ids[1], now=T0, n=2, timeout=5)
        assert fleet.cameras[1].password not in str(exc.value)
