"""Alarms follow the camera status: offline, each confirmed picture fault, retirement; acks are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from healthkit import T0, add_camera
from sqlalchemy import select

from vigil.access.audit import verify_chain
from vigil.access.guard import Scope
from vigil.core.errors import NotFoundError
from vigil.core.models import AuditEntry, Camera
from vigil.health.alarms import acknowledge, desired_alarms, list_alarms, sync_alarms
from vigil.health.models import Alarm, CameraStatus, WorkOrder

H = timedelta(hours=1)


@pytest.mark.parametrize(("state", "faults", "active", "raise_", "clear"), [
    ("down", [], set(), {"offline"}, set()),
    ("down", ["blur"], {"blur"}, {"offline"}, set()),          # picture alarms kept while down
    ("online", [], {"offline"}, set(), {"offline"}),
    ("online", ["blur", "dark"], {"offline", "dark"}, {"blur"}, {"offline"}),
    ("unknown", ["blur"], {"offline"}, set(), set()),
    ("online", [], set(), set(), set()),
])
def test_desired_alarms(state, faults, active, raise_, clear):
    assert desired_alarms(state, faults, active) == (raise_, clear)


def _kinds(s, cam, state="active"):
    return sorted(a.kind for a in s.scalars(select(Alarm).where(Alarm.camera_id == cam, Alarm.state == state)))


def test_picture_faults_offline_and_retirement(tree):
    with tree.db.session() as s:
        cam = add_camera(s, "53010201001", 1)
        st = CameraStatus(camera_id=cam, state="online", since=T0, faults=["blur", "dark"], faults_since=T0 + H)
        s.add(st)
        s.flush()
        assert sync_alarms(s, T0 + 2 * H).raised == 2
        assert _kinds(s, cam) == ["blur", "dark"]
        assert s.scalar(select(Alarm).where(Alarm.kind == "blur")).raised_at == T0 + H
        st.state, st.since = "down", T0 + 3 * H
        rep = sync_alarms(s, T0 + 3 * H)
        assert (rep.raised, rep.cleared) == (1, 0) and _kinds(s, cam) == ["blur", "dark", "offline"]
        st.state, st.faults = "online", ["blur"]
        rep = sync_alarms(s, T0 + 4 * H)
        assert (rep.raised, rep.cleared) == (0, 2) and _kinds(s, cam) == ["blur"]
        assert len(s.scalars(select(WorkOrder)).all()) == 3      # one per alarm kind
        s.get(Camera, cam).lifecycle = "retired"
        assert sync_alarms(s, T0 + 5 * H).cleared == 1
        assert _kinds(s, cam) == []


def test_reraised_alarm_reattaches_to_the_unclosed_order(tree):
    with tree.db.session() as s:
        cam = add_camera(s, "53010201001", 2)
        st = CameraStatus(camera_id=cam, state="down", since=T0)
        s.add(st)
        s.flush()
        sync_alarms(s, T0)
        st.state = "online"
        sync_alarms(s, T0 + H)
        st.state, st.since = "down", T0 + 2 * H
        rep = sync_alarms(s, T0 + 2 * H)
        assert (rep.raised, rep.orders_opened) == (1, 0)
        orders = s.scalars(select(WorkOrder)).all()
        assert len(orders) == 1 and "raised again" in orders[0].history[-1]["note"]


def test_acknowledge_is_audited_and_scoped_listing(tree):
    with tree.db.session() as s:
        cam = add_camera(s, "53010202", 3)
        s.add(CameraStatus(camera_id=cam, state="down", since=T0))
        s.flush()
        sync_alarms(s, T0)
        a = list_alarms(s, scope=Scope.of(["53010202"]))[0]
        acknowledge(s, a.id, actor="duty.wang")
        assert a.acknowledged_by == "duty.wang" and "acknowledged_at" in a.detail
        assert list_alarms(s, scope=Scope.of(["53010201"])) == []
        with pytest.raises(NotFoundError):
            acknowledge(s, 999, actor="x")
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "alarm.ack")).actor == "duty.wang"
        assert verify_chain(s).ok
