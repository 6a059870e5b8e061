"""Cascade playback: an upper platform's Playback INVITE is relayed to the device below, and its end
(MediaStatus 121) goes up in the upper's dialog.

Peers: SIPp (Debian sip-tester) is the NVR below (it plays back, then reports the end); the upper
platform is another Vigil registrar; Vigil is the lower platform between them.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from gbkit import LOCAL, NVR, PASSWORD, PLATFORM, until
from sippkit import SIPP, sipp_args, start_sipp
from sqlalchemy import select

from vigil.core.errors import NotReadyError
from vigil.core.models import AuditEntry, Camera
from vigil.federation.links import parse_rules
from vigil.gb28181 import cascade, store
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.upper import UpperLink

UPPER, CAM, PLAIN = "34000000002000000001", "34020000001310000001", "34020000001320000077"
pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


async def test_a_playback_is_relayed_down_and_its_end_goes_up_as_media_status_121(gb_vigil, upper_vigil, tmp_path):
    with gb_vigil.db.session() as s:
        store.apply_catalog(s, NVR, [CatalogItem(CAM, name="cam 1", parent_id=NVR, civil_code="340200")])
        s.add(Camera(id=PLAIN, name="rtsp only", region_code="340200", lon=117.3, lat=31.3))
    lower = GbServer(gb_vigil, GbConfig(platform_id=PLATFORM, port=0, query_on_register=False))
    await lower.start()
    sipp = await start_sipp(sipp_args(lower.port, NVR, PASSWORD, tmp_path, ooc="device_ooc_playback.xml",
                                      pause_ms=20_000))
    upper = GbServer(upper_vigil, GbConfig(platform_id=UPPER, port=0, catalog_idle=2.0))
    await upper.start()
    link = UpperLink(cascade.UpperConfig(UPPER, "127.0.0.1", upper.port, LOCAL, PASSWORD, 60, 5,
                                         parse_rules("regions=3402")), gb_vigil, source=lower)
    task = asyncio.create_task(link.run())
    ended: list[str] = []
    try:
        assert await until(lambda: NVR in lower.registrar.sessions, 10)

        def upper_knows() -> bool:
            with upper_vigil.db.session() as s:
                return s.get(Camera, CAM) is not None

        assert await until(upper_knows)  # the shared catalog went up
        t1 = 1_780_000_000
        # a camera without a GB device below has no recording to play back from here: a clear refusal
        with pytest.raises(NotReadyError, match="488"):
            await upper.invite(LOCAL, PLAIN, "127.0.0.1", 9, start=t1 - 600, end=t1)
        d = await upper.invite(LOCAL, CAM, "127.0.0.1", 9, start=t1 - 600, end=t1)
        assert d.ssrc.startswith("1")  # a history stream's SSRC
        upper.watch_media_status(d, ended.append)
        assert link._streams[d.call_id].dialog.answer.session == "Playback"  # the device below plays back
        assert await until(lambda: ended, 10)  # SIPp said 121 below; the upper heard it in its own dialog
        assert ended == ["121"]
        assert await upper.bye(d)
        assert await until(lambda: not link._streams, 10)  # and the relay sent BYE down to SIPp
        with gb_vigil.db.session() as s:
            assert s.scalar(select(AuditEntry).where(AuditEntry.action == "gb.upper.stream")).target == CAM
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.stop()
        await upper.stop()
        if sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
        await lower.stop()
