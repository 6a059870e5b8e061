"""The prober never sends a password by Basic auth over plain RTSP unless the camera allows it.

A real simulated camera that demands Basic auth answers the prober; every Authorization header it
receives is recorded, so the test sees what really crossed the wire.
"""

from __future__ import annotations

import pytest

from vigil.core.models import Camera, Region
from vigil.health.probe import ProbeTarget, load_targets, probe_one
from vigil.sim import rtsp as sim_rtsp
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet


@pytest.fixture
def seen(monkeypatch):
    """The Authorization headers the simulated cameras received."""
    headers: list[str] = []
    real = sim_rtsp.check_basic

    def spy(header: str, user: str, password: str) -> bool:
        headers.append(header)
        return real(header, user, password)

    monkeypatch.setattr(sim_rtsp, "check_basic", spy)
    return headers


async def test_basic_only_camera_gets_no_password_unless_allowed(seen):
    async with Fleet(1, auth="basic") as fleet:
        cam = fleet.cameras[0]
        target = ProbeTarget(cam.url, cam.username, cam.password, key="cam")
        res = await probe_one(target, retries=0)
        assert res.reason == "auth" and "Basic" in res.detail and cam.password not in res.detail
        assert not any(h.lower().startswith("basic") for h in seen)  # nothing but the bare DESCRIBE went out
        allowed = await probe_one(ProbeTarget(cam.url, cam.username, cam.password, key="cam", allow_basic=True),
                                  retries=0)
        assert allowed.ok, allowed
        assert any(h.lower().startswith("basic") for h in seen)
        wrong = await probe_one(ProbeTarget(cam.url, cam.username, "nope", key="cam", allow_basic=True), retries=0)
        assert wrong.reason == "auth"


async def test_the_flag_comes_from_the_registry(sqlite_vigil, seen):
    v = sqlite_vigil
    with v.db.session() as s:
        s.add(Region(code="5301", name="Prefecture", level=1))
    async with Fleet(2, auth="basic") as fleet:
        ids = register_fleet(v, fleet.manifest()["cameras"], region="5301")
        with v.db.session() as s:
            s.get(Camera, ids[1]).allow_basic_auth = True
        targets, skipped = load_targets(v, ids=ids)
        assert skipped == 0 and [t.allow_basic for t in targets] == [False, True]
        results = {t.key: await probe_one(t, retries=0) for t in targets}
    assert results[ids[0]].reason == "auth" and results[ids[1]].ok
    assert sum(h.lower().startswith("basic") for h in seen) == 1  # only the allowed camera got the password


async def test_digest_is_still_used_without_the_flag():
    async with Fleet(1) as fleet:
        cam = fleet.cameras[0]
        assert (await probe_one(ProbeTarget(cam.url, cam.username, cam.password), retries=0)).ok
