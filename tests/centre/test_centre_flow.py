"""A shift in the centre, through the library: sign on, escalation, a patrol round, handover, a case export."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from factories import TOWN1, TOWN2, VILLAGE1, build_world
from vigil.access.audit import verify_chain
from vigil.access.guard import Scope
from vigil.access.users import Principal
from vigil.centre import cases, duty, rounds
from vigil.centre.models import Escalation, RoundRun
from vigil.core.errors import ConflictError, NotFoundError
from vigil.core.models import AuditEntry, Camera, Role
from vigil.health.models import Alarm, WorkOrder

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
EVERY = Scope.everything()


@pytest.mark.parametrize(("start", "hours", "now_h", "inside"), [
    (8 * 60, 8, 0.5, True),      # 08:30 local is inside 08:00-16:00
    (16 * 60, 8, 0.5, False),
    (0, 8, 0.5, False),          # 00:00-08:00 local ended at 00:00 UTC
    (0, 8, 23.5, True),          # 07:30 local next day
])
def test_shift_window_in_local_time(start, hours, now_h, inside):
    now = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=now_h)
    got = duty.shift_window(start, hours, now, SH)
    assert (got is not None) == inside
    if got:
        assert got[0] <= now < got[1] and got[1] - got[0] == timedelta(hours=hours)


def test_due_escalations_pure_rule():
    raised = T0 - timedelta(minutes=20)
    alarms = [duty.AlarmView(1, VILLAGE1, raised, False), duty.AlarmView(2, VILLAGE1, raised, True),
              duty.AlarmView(3, VILLAGE1, T0 - timedelta(minutes=5), False), duty.AlarmView(4, "53018102201", raised, False)]
    staff = [duty.DutyView("ann", TOWN1, False, 15), duty.DutyView("lead", TOWN1, True, 15)]
    due = duty.due_escalations(T0, alarms, staff)
    assert [(d.alarm_id, d.leader) for d in due] == [(1, "lead"), (4, "")]
    assert set(due[0].routed_to) == {"ann", "lead"} and due[1].routed_to == ()
    assert duty.due_escalations(T0, alarms, staff, escalated=[1, 4]) == []
    slow = [duty.DutyView("lead", TOWN1, True, 30)]
    assert duty.due_escalations(T0, alarms[:1], slow) == []


def test_missed_slots_and_due_slots():
    slots = rounds.due_slots([9, 14], datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC), SH)
    assert [s.hour for s in slots] == [1, 6]  # 09:00 and 14:00 Shanghai
    now = datetime(2026, 3, 2, 6, 40, tzinfo=UTC)
    assert rounds.missed_slots(slots, [slots[0]], now, timedelta(minutes=30)) == [slots[1]]
    assert rounds.missed_slots(slots, [], now - timedelta(minutes=20), timedelta(minutes=30)) == [slots[0]]


def _alarm(s, cam: str, region: str, at: datetime) -> int:
    a = Alarm(camera_id=cam, region_code=region, kind="offline", state="active", raised_at=at)
    s.add(a)
    s.flush()
    return a.id


def test_a_shift_end_to_end(vigil, tmp_path):
    w = build_world(vigil)
    town1 = Scope.of([TOWN1])
    cam = w.cameras[TOWN1]
    with vigil.db.session() as s:
        shift = duty.define_shift(s, region_code=TOWN1, name="day", start="08:00", response_minutes=10,
                                  scope=town1, actor="lead")
        with pytest.raises(NotFoundError):
            duty.define_shift(s, region_code=TOWN2, name="x", start="08:00", scope=town1, actor="lead")
        duty.sign_on(s, shift.id, user="ann", scope=town1, now=T0)
        duty.sign_on(s, shift.id, user="lead", leader=True, scope=town1, now=T0)
        old = _alarm(s, cam, s.get(Camera, cam).region_code, T0 - timedelta(minutes=11))
        fresh = _alarm(s, cam, s.get(Camera, cam).region_code, T0 - timedelta(minutes=2))
        other = _alarm(s, w.cameras[TOWN2], s.get(Camera, w.cameras[TOWN2]).region_code, T0 - timedelta(hours=1))
    with vigil.db.session() as s:  # routed to whoever is on duty for the centre, never across towns
        assert {a.id for a in duty.routed_alarms(s, user="ann", scope=EVERY)} == {old, fresh}
        assert duty.routed_alarms(s, user="carl", scope=EVERY) == []
        esc = duty.escalate_due(s, T0, scope=town1)
        assert [(e.alarm_id, e.to_user) for e in esc] == [(old, "lead")]
        assert duty.escalate_due(s, T0, scope=town1) == []  # once per alarm
    with vigil.db.session() as s:
        got = {e.alarm_id: e.to_user for e in duty.escalate_due(s, T0 + timedelta(minutes=10), scope=EVERY)}
        assert got == {fresh: "lead", other: ""}  # town 2 has nobody on duty
        assert s.scalar(select(Escalation).where(Escalation.alarm_id == old)) is not None

    with vigil.db.session() as s:  # a round at 09:00 local, started at 09:50: late
        r = rounds.create_round(s, region_code=TOWN1, name="gates", cameras=[{"camera_id": cam}], hours=[9],
                                checklist=["picture clear", "heading unchanged"], scope=town1, actor="lead")
        with pytest.raises(NotFoundError):
            rounds.create_round(s, region_code=TOWN1, name="x", cameras=[{"camera_id": w.cameras[TOWN2]}],
                                scope=town1, actor="lead")
        run = rounds.start_run(s, r.id, officer="ann", scope=town1, tz=SH, now=T0 + timedelta(minutes=80))
        assert run.due_at == datetime(2026, 3, 2, 1, tzinfo=UTC) and run.late
        with pytest.raises(NotFoundError):
            rounds.mark_view(s, run.id, camera_id=w.cameras[TOWN2], status="normal", actor="ann", scope=town1)
        v1 = rounds.mark_view(s, run.id, camera_id=cam, status="abnormal", note="lens dirty", snapshot="snap.jpg",
                              follow_up="workorder", actor="ann", scope=town1)
        v2 = rounds.mark_view(s, run.id, camera_id=cam, status="abnormal", note="crowd at gate",
                              follow_up="incident", actor="ann", scope=town1)
        assert s.get(WorkOrder, v1.order_id).camera_id == cam and v2.incident_id
        rounds.finish_run(s, run.id, actor="ann", scope=town1)
        per_shift = rounds.create_round(s, region_code=TOWN1, name="shift start", cameras=[{"camera_id": cam}],
                                        shift_id=shift.id, scope=town1, actor="lead")
        on_time = rounds.start_run(s, per_shift.id, officer="ann", scope=town1, tz=SH, now=T0)
        assert on_time.due_at == datetime(2026, 3, 2, 0, tzinfo=UTC) and not on_time.late  # 08:00 local
        incident_id = v2.incident_id
    with vigil.db.session() as s:  # the next day: 09:00 passed with no run -> missed
        missed = rounds.flag_missed(s, T0 + timedelta(days=1, hours=2), scope=EVERY, tz=SH)
        assert sorted((m.round_id, m.due_at) for m in missed) == [
            (r.id, datetime(2026, 3, 3, 1, tzinfo=UTC)), (per_shift.id, datetime(2026, 3, 3, 0, tzinfo=UTC))]
        assert s.scalars(select(RoundRun.state).where(RoundRun.round_id == r.id)).all().count("missed") == 1

    with vigil.db.session() as s:
        h = duty.write_handover(s, shift.id, outgoing="ann", notes="gate 3 dirty", scope=town1,
                                now=T0 + timedelta(hours=8))
        assert {a["id"] for a in h.items["alarms"]} >= {old, fresh} and other not in {a["id"] for a in h.items["alarms"]}
        assert incident_id in {i["id"] for i in h.items["incidents"]}
        with pytest.raises(ConflictError):
            duty.ack_handover(s, h.id, incoming="ann", scope=town1)
        with pytest.raises(NotFoundError):
            duty.ack_handover(s, h.id, incoming="bob", scope=Scope.of([TOWN2]))
        duty.ack_handover(s, h.id, incoming="bob", scope=town1)
        with pytest.raises(ConflictError):
            duty.ack_handover(s, h.id, incoming="carl", scope=town1)
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"centre.handover.write", "centre.handover.ack", "centre.escalate", "centre.round.view"} <= actions

    with vigil.db.session() as s:
        c = cases.create_case(s, number="AN-2026-001", region_code=TOWN1, title="gate", reason="theft at gate 3",
                              actor="inv", scope=town1)
        cases.link_to_case(s, c.id, incident_id=incident_id, actor="inv", scope=town1)
        cases.add_item(s, incident_id, kind="position", lon=102.7, lat=25.0, actor="inv", scope=town1)
        with pytest.raises(NotFoundError):
            cases.add_item(s, incident_id, kind="alarm", ref=str(other), actor="inv", scope=town1)
        inv = Principal(user_id=0, name="inv", role=Role.INVESTIGATOR, scopes=(TOWN1,))
        req = cases.request_for_case(s, c.id, inv, camera_id=cam, start=T0, end=T0 + timedelta(minutes=5))
        assert req.reason == "case AN-2026-001: theft at gate 3"
        with pytest.raises(NotFoundError):
            cases.request_for_case(s, c.id, inv, camera_id=w.cameras[TOWN2], start=T0, end=T0 + timedelta(minutes=5))
        ex = cases.export_case(s, c.id, exports_dir=tmp_path / "exports", actor="inv", scope=town1)
    custody = json.loads((Path(ex.path) / "custody.json").read_text())
    assert custody["why"] == "theft at gate 3" and custody["who"] == "inv"
    names = {f["name"]: f["sha256"] for f in custody["files"]}
    assert names["case.json"] == cases.sha256_file(Path(ex.path) / "case.json")
    body = json.loads((Path(ex.path) / "case.json").read_text())
    assert [r["id"] for r in body["retrievals"]] == [req.id]
    assert [k["kind"] for k in body["incidents"][0]["timeline"]][-1] in {"position", "note"}
    with vigil.db.session() as s:
        assert verify_chain(s).ok


def test_shifts_follow_the_instance_time_zone(sqlite_vigil):
    assert duty.centre_zone() == SH  # no settings at hand (pure callers, benchmarks)
    shanghai = replace(sqlite_vigil.settings, time_zone="Asia/Shanghai")
    assert duty.centre_zone(shanghai) == SH and duty.centre_zone(sqlite_vigil.settings) == sqlite_vigil.settings.zone
