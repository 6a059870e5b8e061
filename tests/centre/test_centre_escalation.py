"""An alarm left unacknowledged past its response time escalates to the shift leader, through the service
that ``vigil serve`` runs, and shows in the API to the centre's staff only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import TOWN1, TOWN2, build_world
from vigil.access.guard import Scope
from vigil.api.app import create_app
from vigil.centre import duty
from vigil.centre.models import Escalation
from vigil.centre.service import CentreService
from vigil.core.models import AuditEntry, Camera, utcnow
from vigil.health.alarms import acknowledge
from vigil.health.models import Alarm


def _alarm(v, cam_id: str, minutes_ago: float) -> int:
    with v.db.session() as s:
        cam = s.get(Camera, cam_id)
        a = Alarm(camera_id=cam.id, region_code=cam.region_code, kind="offline", state="active",
                  raised_at=utcnow() - timedelta(minutes=minutes_ago))
        s.add(a)
        s.flush()
        return a.id


async def _run_until_escalated(v, want: int) -> dict:
    svc = CentreService(v, interval=0.1)
    await svc.start()
    try:
        for _ in range(200):
            if want in svc.last.get("escalated", []):
                break
            await asyncio.sleep(0.05)
        return svc.last
    finally:
        await svc.stop()


def test_unacknowledged_alarm_escalates_to_the_leader(vigil):
    w = build_world(vigil)
    with vigil.db.session() as s:
        shift = duty.define_shift(s, region_code=TOWN1, name="night", start="00:00", hours=24, response_minutes=5,
                                  scope=Scope.everything(), actor="test")
        duty.sign_on(s, shift.id, user=f"duty_officer-{TOWN1}", scope=Scope.everything())
        duty.sign_on(s, shift.id, user="leader-one", leader=True, scope=Scope.everything())
    late = _alarm(vigil, w.cameras[TOWN1], 6)
    seen = _alarm(vigil, w.cameras[TOWN1], 6)
    young = _alarm(vigil, w.cameras[TOWN1], 1)
    with vigil.db.session() as s:
        acknowledge(s, seen, actor=f"duty_officer-{TOWN1}")

    last = asyncio.run(_run_until_escalated(vigil, late))
    assert last["escalated"] == [late], last
    with vigil.db.session() as s:
        e = s.scalars(select(Escalation)).one()
        assert (e.alarm_id, e.to_user) == (late, "leader-one")
        assert set(e.routed_to) == {f"duty_officer-{TOWN1}", "leader-one"}
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "centre.escalate",
                                                 AuditEntry.target == f"alarm:{late}")) is not None
        assert young not in set(s.scalars(select(Escalation.alarm_id)))

    client = TestClient(create_app(vigil))
    mine = client.get("/api/v1/centre/escalations", headers={"Authorization": f"Bearer {w.tokens[f'duty_officer-{TOWN1}']}"})
    other = client.get("/api/v1/centre/escalations", headers={"Authorization": f"Bearer {w.tokens[f'duty_officer-{TOWN2}']}"})
    planner = client.get("/api/v1/centre/escalations", headers={"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"})
    assert [x["alarm_id"] for x in mine.json()] == [late] and mine.json()[0]["to_user"] == "leader-one"
    assert other.status_code == 200 and other.json() == []
    assert planner.status_code == 403
