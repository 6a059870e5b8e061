"""The work-order lifecycle: automatic alarm, team by region, SLA breach, failed and passed verification."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from healthkit import T0, HookServer, add_camera
from sqlalchemy import select

from vigil.access.audit import verify_chain
from vigil.access.guard import Scope
from vigil.core.errors import ConflictError, InputError
from vigil.core.models import AuditEntry
from vigil.health import workorders as wos
from vigil.health.alarms import sync_alarms
from vigil.health.kpi import compute_kpis
from vigil.health.models import Alarm, CameraStatus, MaintenanceTeam, WorkOrder
from vigil.notify.webhook import add_webhook, deliver_pending, verify_signature

H = timedelta(hours=1)
SECRET = "a-webhook-secret-0123456789"


@pytest.fixture
def site(tree):
    with tree.db.session() as s:
        s.add_all([MaintenanceTeam(name="acme-town-a", contractor="Acme", region_code="53010201", sla_hours=4),
                   MaintenanceTeam(name="acme-city", contractor="Acme", region_code="530102", sla_hours=24)])
        cam = add_camera(s, "53010201001", 7)
        other = add_camera(s, "53010202", 8)
        s.add(CameraStatus(camera_id=cam, state="down", reason="timeout", since=T0))
        s.add(CameraStatus(camera_id=other, state="down", reason="refused", since=T0))
    return tree, cam, other


def _recheck(ok: bool, detail: str):
    async def run(vigil, camera_id, kind):
        return ok, detail
    return run


def _actions(s, target):
    return [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == target)
                                        .order_by(AuditEntry.seq))]


def test_lifecycle_with_breach_failed_and_passed_verification(site):
    v, cam, other = site
    with HookServer() as hook:
        with v.db.session() as s:
            add_webhook(s, v, name="ops", url=hook.url, secret=SECRET, events=["alarm.*", "workorder.*"],
                        region_code="53010201")
            rep = sync_alarms(s, T0 + 60 * 1e-3 * H)
            assert (rep.raised, rep.cleared, rep.orders_opened) == (2, 0, 2)
            assert sync_alarms(s, T0 + 0.1 * H) == type(rep)(0, 0, 0)   # idempotent
            wo = s.scalar(select(WorkOrder).where(WorkOrder.camera_id == cam))
            team = s.get(MaintenanceTeam, wo.team_id)
            assert team.name == "acme-town-a"                          # the most specific subtree
            assert wo.due_at == wo.opened_at + 4 * H
            far = s.scalar(select(WorkOrder).where(WorkOrder.camera_id == other))
            assert s.get(MaintenanceTeam, far.team_id).name == "acme-city" and far.due_at == far.opened_at + 24 * H
            alarm = s.get(Alarm, wo.alarm_id)
            assert alarm.kind == "offline" and alarm.raised_at == T0
            oid = wo.id
            wos.assign(s, oid, "li.wei", actor="dispatcher", now=T0 + H)
            wos.start(s, oid, actor="li.wei", now=T0 + 2 * H)
            wos.resolve(s, oid, actor="li.wei", note="replaced PoE switch", now=T0 + 3 * H)
        # the re-probe still fails: reopened, not closed
        res = asyncio.run(wos.verify(v, oid, actor="system", now=T0 + 3.1 * H,
                                     recheck=_recheck(False, "timeout")))
        assert (res.ok, res.state) == (False, "assigned")
        with v.db.session() as s:
            assert wos.check_sla(s, now=T0 + 3.5 * H) == []
            assert wos.check_sla(s, now=T0 + 5 * H) == [oid]              # 4 h SLA from T0 + 3.6 min
            assert wos.check_sla(s, now=T0 + 6 * H) == []                  # flagged once
            with pytest.raises(ConflictError, match="only a resolved order"):
                wos.apply_verification(s, oid, True, "x", actor="system")
            wos.resolve(s, oid, actor="li.wei", note="re-crimped cable", now=T0 + 6 * H)
        res = asyncio.run(wos.verify(v, oid, actor="system", now=T0 + 6.5 * H, recheck=_recheck(True, "online")))
        assert (res.ok, res.state) == (True, "closed")
        with v.db.session() as s:
            wo = s.get(WorkOrder, oid)
            assert wo.breached and wo.verified_at == wo.closed_at == T0 + 6.5 * H
            assert [h["to"] for h in wo.history] == ["open", "assigned", "in_progress", "resolved", "assigned",
                                                      "assigned", "resolved", "closed"]
            assert "verification failed: timeout" in wo.history[4]["note"]
            assert _actions(s, f"workorder:{oid}") == [
                "workorder.open", "workorder.assigned", "workorder.in_progress", "workorder.resolved",
                "workorder.reopened", "workorder.breach", "workorder.resolved", "workorder.closed"]
            with pytest.raises(ConflictError, match="cannot become"):
                wos.resolve(s, oid, actor="li.wei")
            # the camera answers again: the alarm clears by itself
            s.get(CameraStatus, cam).state = "online"
            assert sync_alarms(s, T0 + 7 * H).cleared == 1
            assert s.get(Alarm, wo.alarm_id).state == "cleared"
            assert _actions(s, f"alarm:{wo.alarm_id}") == ["alarm.raise", "alarm.clear"]
            assert verify_chain(s).ok
            k = {r.region_code: r for r in compute_kpis(s, "53010201", period="1d", end=T0 + 12 * H).regions}
            assert k["53010201"].repairs == 1 and k["53010201"].repair_median_h == pytest.approx(6.5)
        rep = asyncio.run(deliver_pending(v, now=T0 + 8 * H, backoff=0.01))
        assert rep.delivered == len(hook.requests) and rep.failed == 0
    # only the town-A camera's events reached this webhook (region scope), in order
    assert hook.events() == ["alarm.raised", "workorder.open", "workorder.assigned", "workorder.in_progress",
                             "workorder.resolved", "workorder.reopened", "workorder.breached",
                             "workorder.resolved", "workorder.closed", "alarm.cleared"]
    for headers, body in hook.requests:
        assert verify_signature(SECRET, headers["X-Vigil-Timestamp"], body, headers["X-Vigil-Signature"])
        assert json.loads(body)["data"]["camera_id"] == cam


def test_transitions_are_checked(site):
    v, cam, _ = site
    with v.db.session() as s:
        sync_alarms(s, T0)
        oid = s.scalar(select(WorkOrder.id).where(WorkOrder.camera_id == cam))
        with pytest.raises(ConflictError, match="open; it cannot become resolved"):
            wos.resolve(s, oid, actor="x")
        with pytest.raises(InputError, match="technician"):
            wos.assign(s, oid, "  ", actor="x")
        with pytest.raises(InputError, match="unknown work-order state"):
            wos.list_orders(s, scope=Scope.of(["5301"]), state="done")
        assert [w.id for w in wos.list_orders(s, scope=Scope.of(["53010201"]), state="open")] == [oid]
        assert wos.list_orders(s, scope=Scope.of(["53010299"])) == []
    with pytest.raises(ConflictError, match="resolve it before verifying"):
        asyncio.run(wos.verify(v, oid, actor="x", recheck=_recheck(True, "")))


def test_default_sla_without_team_and_failing_recheck_never_crashes(tree):
    with tree.db.session() as s:
        cam = add_camera(s, "53010202", 9)
        s.add(CameraStatus(camera_id=cam, state="down", since=T0))
        sync_alarms(s, T0, default_sla_hours=12)
        wo = s.scalar(select(WorkOrder).where(WorkOrder.camera_id == cam))
        assert wo.team_id is None and wo.due_at == T0 + 12 * H
        wos.start(s, wo.id, actor="zhang", now=T0)
        wos.resolve(s, wo.id, actor="zhang", now=T0)
        oid = wo.id

    async def broken(vigil, camera_id, kind):
        raise OSError("no route")

    res = asyncio.run(wos.verify(tree, oid, actor="system", recheck=broken))
    assert not res.ok and res.state == "assigned" and "could not run" in res.detail
