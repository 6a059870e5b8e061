"""Duty shifts, sign-on and sign-off, handovers, alarm routing and escalation to the shift leader.

A centre is a region (its subtree is what it watches); a shift is a time of day and a length in the
instance's time zone (``VIGIL_TIME_ZONE``, the one the daily report uses; Asia/Shanghai without settings). Alarms are routed to
whoever is signed on for a region covering the alarm's camera. An alarm still unacknowledged when its
response time (the shortest of the shifts on duty for it) has passed escalates to the shift leader:
:func:`due_escalations` is the pure rule, :func:`escalate_due` applies it (the centre service calls it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.analytics.models import Event
from vigil.centre.models import DutySession, Escalation, Handover, Incident, ShiftDef
from vigil.core.config import Settings
from vigil.core.errors import ConflictError, InputError
from vigil.core.models import Region, utcnow
from vigil.health.models import Alarm, WorkOrder
from vigil.health.workorders import OPEN_STATES
from vigil.notify.webhook import enqueue

__all__ = ["AlarmView", "DEFAULT_TZ", "DutyView", "EscalationDue", "ack_handover", "centre_zone", "define_shift",
           "due_escalations", "duty_views", "escalate_due", "handover_items", "list_escalations",
           "list_handovers", "list_shifts", "on_duty", "parse_hhmm", "recipients", "routed_alarms", "shift_window", "sign_off",
           "sign_on", "write_handover"]

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_RESPONSE_MINUTES = 15


def centre_zone(settings: Settings | None = None) -> ZoneInfo:
    """The zone shifts and rounds are read in: the instance's (``VIGIL_TIME_ZONE``), else Asia/Shanghai."""
    return settings.zone if settings is not None else ZoneInfo(DEFAULT_TZ)


def parse_hhmm(text: str) -> int:
    """``"08:00"`` → minutes after midnight (InputError for anything else)."""
    try:
        t = time.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"shift start {text!r}: expected HH:MM") from None
    return t.hour * 60 + t.minute


def shift_window(start_minute: int, hours: float, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The (start, end) in UTC of the occurrence of a shift that contains ``now``, or None."""
    local = now.astimezone(tz)
    for back in (0, 1):
        day = (local - timedelta(days=back)).date()
        start = datetime.combine(day, time(start_minute // 60, start_minute % 60), tz)
        end = start + timedelta(hours=hours)
        if start <= local < end:
            return start.astimezone(now.tzinfo), end.astimezone(now.tzinfo)
    return None


def define_shift(session: Session, *, region_code: str, name: str, start: str, hours: float = 8.0,
                 team: str = "", response_minutes: int = DEFAULT_RESPONSE_MINUTES, scope: Scope,
                 actor: str) -> ShiftDef:
    """Define a shift of a centre (a region the caller sees) and team."""
    ensure_visible(scope, region_code, f"region {region_code}")
    get_in_scope(session, Region, region_code, scope)
    if not name.strip():
        raise InputError("a shift needs a name")
    if not 0 < hours <= 24:
        raise InputError(f"a shift of {hours} h: expected more than 0 and at most 24 hours")
    if not 0 < response_minutes <= 24 * 60:
        raise InputError("response time: expected 1 to 1440 minutes")
    s = ShiftDef(region_code=region_code, team=team.strip(), name=name.strip(), start_minute=parse_hhmm(start),
                 hours=hours, response_minutes=response_minutes)
    session.add(s)
    session.flush()
    record(session, actor, "centre.shift.define", f"shift:{s.id}", region=region_code, name=s.name,
           start=start, hours=hours, team=s.team)
    return s


def sign_on(session: Session, shift_id: int, *, user: str, scope: Scope, leader: bool = False,
            now: datetime | None = None) -> DutySession:
    """Sign ``user`` on to a shift (closing any session they left open)."""
    shift = get_in_scope(session, ShiftDef, shift_id, scope, what=f"shift {shift_id}")
    now = now or utcnow()
    sign_off(session, user=user, now=now)
    d = DutySession(shift_id=shift.id, region_code=shift.region_code, user_name=user, leader=leader, on_at=now)
    session.add(d)
    session.flush()
    record(session, user, "centre.duty.on", f"shift:{shift.id}", region=shift.region_code, leader=leader)
    return d


def sign_off(session: Session, *, user: str, now: datetime | None = None) -> int:
    """Sign ``user`` off every open duty session; returns how many were closed."""
    now = now or utcnow()
    open_ = list(session.scalars(select(DutySession).where(DutySession.user_name == user,
                                                           DutySession.off_at.is_(None))))
    for d in open_:
        d.off_at = now
        record(session, user, "centre.duty.off", f"shift:{d.shift_id}", region=d.region_code)
    return len(open_)


def on_duty(session: Session, *, scope: Scope) -> list[DutySession]:
    """Open duty sessions in ``scope``."""
    q = select(DutySession).where(DutySession.off_at.is_(None), scope.clause(DutySession.region_code))
    return list(session.scalars(q.order_by(DutySession.on_at)))


def handover_items(session: Session, region_code: str, *, since: datetime, limit: int = 200) -> dict[str, Any]:
    """What is still open in a centre's subtree: active alarms, open work orders, recent events, incidents."""
    centre = Scope.of([region_code])
    alarms = session.scalars(select(Alarm).where(Alarm.state == "active", centre.clause(Alarm.region_code))
                             .order_by(Alarm.raised_at).limit(limit))
    orders = session.scalars(select(WorkOrder).where(WorkOrder.state.in_(OPEN_STATES),
                                                     centre.clause(WorkOrder.region_code)).limit(limit))
    events = session.scalars(select(Event).where(Event.start >= since, centre.clause(Event.region_code))
                             .order_by(Event.start.desc()).limit(limit))
    incidents = session.scalars(select(Incident).where(Incident.status != "closed",
                                                       centre.clause(Incident.region_code)).limit(limit))
    return {
        "alarms": [{"id": a.id, "camera_id": a.camera_id, "kind": a.kind, "raised_at": a.raised_at.isoformat(),
                    "acknowledged_by": a.acknowledged_by} for a in alarms],
        "work_orders": [{"id": w.id, "camera_id": w.camera_id, "state": w.state, "due_at": w.due_at.isoformat()}
                        for w in orders],
        "events": [{"id": e.id, "camera_id": e.camera_id, "type": e.type, "label": e.label,
                    "start": e.start.isoformat()} for e in events],
        "incidents": [{"id": i.id, "title": i.title, "status": i.status, "assignee": i.assignee} for i in incidents],
    }


def write_handover(session: Session, shift_id: int, *, outgoing: str, notes: str, scope: Scope,
                   now: datetime | None = None) -> Handover:
    """The outgoing officer's handover: their notes and a snapshot of everything still open (audited)."""
    shift = get_in_scope(session, ShiftDef, shift_id, scope, what=f"shift {shift_id}")
    now = now or utcnow()
    items = handover_items(session, shift.region_code, since=now - timedelta(hours=shift.hours))
    h = Handover(shift_id=shift.id, region_code=shift.region_code, outgoing=outgoing, written_at=now,
                 notes=notes.strip(), items=items)
    session.add(h)
    session.flush()
    record(session, outgoing, "centre.handover.write", f"handover:{h.id}", region=shift.region_code,
           alarms=len(items["alarms"]), work_orders=len(items["work_orders"]), events=len(items["events"]),
           incidents=len(items["incidents"]))
    return h


def ack_handover(session: Session, handover_id: int, *, incoming: str, scope: Scope,
                 now: datetime | None = None) -> Handover:
    """The incoming officer acknowledges a handover (once; never the one who wrote it)."""
    h = get_in_scope(session, Handover, handover_id, scope, what=f"handover {handover_id}")
    if h.acked_at is not None:
        raise ConflictError(f"handover {h.id} was already acknowledged by {h.incoming}")
    if h.outgoing == incoming:
        raise ConflictError("the outgoing officer cannot acknowledge their own handover")
    h.incoming, h.acked_at = incoming, now or utcnow()
    record(session, incoming, "centre.handover.ack", f"handover:{h.id}", region=h.region_code, outgoing=h.outgoing)
    return h


# ----------------------------------------------------------------------------- routing and escalation
@dataclass(frozen=True, slots=True)
class DutyView:
    """Who is on duty, for which centre, as leader or not, with the shift's response time."""

    user: str
    region_code: str
    leader: bool
    response_minutes: int = DEFAULT_RESPONSE_MINUTES


@dataclass(frozen=True, slots=True)
class AlarmView:
    """The facts of an alarm the escalation rule needs."""

    id: int
    region_code: str
    raised_at: datetime
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class EscalationDue:
    """An alarm to pass to a shift leader (``leader`` is empty when no leader is signed on)."""

    alarm_id: int
    region_code: str
    leader: str
    routed_to: tuple[str, ...]


def recipients(region_code: str, duty: Iterable[DutyView]) -> list[DutyView]:
    """The duty sessions whose centre's subtree holds ``region_code``, most specific centre first."""
    mine = [d for d in duty if region_code.startswith(d.region_code)]
    return sorted(mine, key=lambda d: (-len(d.region_code), d.user))


def due_escalations(now: datetime, alarms: Iterable[AlarmView], duty: Sequence[DutyView],
                    escalated: Iterable[int] = ()) -> list[EscalationDue]:
    """Pure rule: the active, unacknowledged alarms past their response time not escalated yet."""
    done = set(escalated)
    out = []
    for a in alarms:
        if a.acknowledged or a.id in done:
            continue
        routed = recipients(a.region_code, duty)
        limit = min((d.response_minutes for d in routed), default=DEFAULT_RESPONSE_MINUTES)
        if now - a.raised_at <= timedelta(minutes=limit):
            continue
        leaders = [d.user for d in routed if d.leader]
        out.append(EscalationDue(a.id, a.region_code, leaders[0] if leaders else "",
                                 tuple(dict.fromkeys(d.user for d in routed))))
    return out


def duty_views(session: Session, *, scope: Scope) -> list[DutyView]:
    """The open duty sessions with their shifts' response times."""
    q = (select(DutySession, ShiftDef.response_minutes).join(ShiftDef, ShiftDef.id == DutySession.shift_id)
         .where(DutySession.off_at.is_(None), scope.clause(DutySession.region_code)))
    return [DutyView(d.user_name, d.region_code, d.leader, rm) for d, rm in session.execute(q)]


def escalate_due(session: Session, now: datetime | None = None, *, scope: Scope) -> list[Escalation]:
    """Escalate every alarm in ``scope`` that :func:`due_escalations` names: a row, an audit entry, a webhook."""
    now = now or utcnow()
    alarms = [AlarmView(a.id, a.region_code, a.raised_at, bool(a.acknowledged_by))
              for a in session.scalars(select(Alarm).where(Alarm.state == "active", scope.clause(Alarm.region_code)))]
    done = session.scalars(select(Escalation.alarm_id).where(Escalation.alarm_id.in_([a.id for a in alarms])))
    out = []
    for due in due_escalations(now, alarms, duty_views(session, scope=scope), done):
        e = Escalation(alarm_id=due.alarm_id, region_code=due.region_code, to_user=due.leader,
                       routed_to=list(due.routed_to), at=now)
        session.add(e)
        session.flush()
        record(session, "system", "centre.escalate", f"alarm:{due.alarm_id}", region=due.region_code,
               leader=due.leader, routed_to=list(due.routed_to))
        enqueue(session, "alarm.escalated", {"alarm_id": due.alarm_id, "leader": due.leader,
                                             "routed_to": list(due.routed_to)}, region_code=due.region_code, now=now)
        out.append(e)
    return out


def routed_alarms(session: Session, *, user: str, scope: Scope, limit: int = 200) -> list[Alarm]:
    """Active alarms routed to ``user``: in the centres they are signed on for, within their scope."""
    centres = [d.region_code for d in session.scalars(select(DutySession).where(
        DutySession.user_name == user, DutySession.off_at.is_(None)))]
    if not centres:
        return []
    q = (select(Alarm).where(Alarm.state == "active", Scope.of(centres).clause(Alarm.region_code),
                             scope.clause(Alarm.region_code))
         .order_by(Alarm.raised_at).limit(limit))
    return list(session.scalars(q))


def list_escalations(session: Session, *, scope: Scope, limit: int = 200) -> list[Escalation]:
    """Escalations in ``scope``, newest first."""
    q = select(Escalation).where(scope.clause(Escalation.region_code)).order_by(Escalation.id.desc()).limit(limit)
    return list(session.scalars(q))


def list_handovers(session: Session, *, scope: Scope, limit: int = 50) -> list[Handover]:
    """Handovers in ``scope``, newest first."""
    q = select(Handover).where(scope.clause(Handover.region_code)).order_by(Handover.id.desc()).limit(limit)
    return list(session.scalars(q))


def list_shifts(session: Session, *, scope: Scope) -> list[ShiftDef]:
    """Shift definitions in ``scope``."""
    q = select(ShiftDef).where(scope.clause(ShiftDef.region_code)).order_by(ShiftDef.region_code,
                                                                              ShiftDef.start_minute)
    return list(session.scalars(q))
