"""Verification of a repair: re-probe one camera now (and re-check its picture for picture faults)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from vigil.core.context import Vigil
from vigil.core.errors import NotFoundError
from vigil.core.models import Camera

__all__ = ["call_diagnose", "camera_target", "camera_targets", "recheck_camera"]


def camera_targets(vigil: Vigil, camera_ids: Sequence[str]) -> list[Any]:
    """The prober's targets for registered cameras (one query; unknown ids are skipped)."""
    from vigil.health.probe import ProbeTarget

    out = []
    with vigil.db.session() as s:
        for i in range(0, len(camera_ids), 500):
            rows = s.execute(select(Camera.id, Camera.main_url, Camera.sub_url, Camera.username,
                                    Camera.password_enc, Camera.onvif_url, Camera.allow_basic_auth)
                             .where(Camera.id.in_(camera_ids[i:i + 500]))).all()
            out += [ProbeTarget(main or sub, user or "", vigil.box.open(pw), onvif or "", cid, allow_basic=basic)
                    for cid, main, sub, user, pw, onvif, basic in rows if main or sub]
    return out


def camera_target(vigil: Vigil, camera_id: str) -> Any:
    """The prober's target for one registered camera."""
    from vigil.health.probe import ProbeTarget

    with vigil.db.session() as s:
        cam = s.get(Camera, camera_id)
        if cam is None:
            raise NotFoundError(f"camera {camera_id} does not exist")
        return ProbeTarget(cam.main_url or cam.sub_url, cam.username or "", vigil.box.open(cam.password_enc),
                           cam.onvif_url or "", cam.id, allow_basic=cam.allow_basic_auth)


async def call_diagnose(vigil: Vigil, camera_id: str) -> Any:
    """Run the picture diagnosis of one camera (off the event loop when it is synchronous)."""
    from vigil.health.vqd import diagnose_camera

    if inspect.iscoroutinefunction(diagnose_camera):
        return await diagnose_camera(vigil, camera_id)
    return await asyncio.to_thread(diagnose_camera, vigil, camera_id)


async def recheck_camera(vigil: Vigil, camera_id: str, kind: str, *, timeout: float = 5.0) -> tuple[bool, str]:
    """``(recovered, why)``: the camera answers a probe and, for a picture alarm, no longer shows it."""
    from vigil.health.probe import probe_one

    target = await asyncio.to_thread(camera_target, vigil, camera_id)
    if not target.url:
        return False, "camera has no stream URL to probe"
    res = await probe_one(target, timeout=timeout, retries=2)
    if not res.ok:
        return False, f"still down: {res.reason}"
    if kind == "offline":
        return True, f"online, answered in {res.ms:.0f} ms"
    diag = await call_diagnose(vigil, camera_id)
    faults = set(getattr(diag, "faults", ()) or ())
    if kind in faults:
        return False, f"online but the picture still shows {kind}"
    return True, f"online and the picture passes ({', '.join(sorted(faults)) or 'no fault'})"
