"""Alarms raised and cleared automatically from the cameras' current, debounced status.

Rules applied by :func:`sync_alarms` to every in-service camera:

* state ``down`` → one ``offline`` alarm (raised at ``CameraStatus.since``, when the
  outage was confirmed); it clears when the camera is ``online`` again.
* each confirmed picture fault in ``CameraStatus.faults`` (``blur``, ``dark``, ...)
  while the camera is ``online`` → one alarm of that kind (raised at ``faults_since``);
  it clears when the fault leaves the set. While a camera is down its picture alarms
  are left as they are (the picture cannot be checked).
* ``unknown`` (never probed) raises nothing.
* retired or planned cameras have every active alarm cleared.

Raising an alarm opens (or re-attaches to) a work order; every raise, clear and
acknowledgement writes an audit entry and queues a webhook event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope
from vigil.core.errors import NotFoundError
from vigil.core.models import Camera, utcnow
from vigil.core.regions import in_subtree
from vigil.health.models import Alarm, CameraStatus
from vigil.health.workorders import DEFAULT_SLA_HOURS, open_for_alarm
from vigil.notify.webhook import enqueue
from vigil.registry.streams import is_in_service

__all__ = ["SEVERITY", "SyncReport", "acknowledge", "alarm_json", "desired_alarms", "list_alarms", "page_alarms",
           "sync_alarms"]

SEVERITY = {"offline": "major", "signal_loss": "major", "covered": "major", "moved": "major",
            "frozen": "major", "blur": "minor", "dark": "minor", "bright": "minor", "noise": "minor",
            "color_cast": "minor"}


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one :func:`sync_alarms` pass changed."""

    raised: int
    cleared: int
    orders_opened: int


def desired_alarms(state: str, faults: list[str] | None, active: set[str]) -> tuple[set[str], set[str]]:
    """Pure rule: ``(to_raise, to_clear)`` alarm kinds for one camera given its status and active alarms."""
    if state == "down":
        want = {"offline"} | (active - {"offline"})  # picture alarms frozen while down
    elif state == "online":
        want = {str(f) for f in (faults or [])}
    else:  # unknown: keep what is there, raise nothing new
        want = set(active)
    return want - active, active - want


def alarm_json(a: Alarm) -> dict[str, Any]:
    """A JSON-ready view of an alarm (webhook payloads, CLI and API)."""
    return {"id": a.id, "camera_id": a.camera_id, "region_code": a.region_code, "kind": a.kind,
            "severity": a.severity, "state": a.state, "raised_at": a.raised_at.isoformat(),
            "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None,
            "acknowledged_by": a.acknowledged_by or "", "detail": a.detail or {}}


def _raise(session: Session, cam_id: str, region: str, kind: str, at: datetime, now: datetime,
           actor: str) -> Alarm:
    a = Alarm(camera_id=cam_id, region_code=region, kind=kind, severity=SEVERITY.get(kind, "minor"),
              state="active", raised_at=min(at, now), detail={"detected_at": now.isoformat()})
    session.add(a)
    session.flush()
    record(session, actor, "alarm.raise", f"alarm:{a.id}", camera=cam_id, region=region, kind=kind,
           raised_at=a.raised_at.isoformat())
    enqueue(session, "alarm.raised", alarm_json(a), region_code=region, now=now)
    return a


def _clear(session: Session, a: Alarm, now: datetime, actor: str, why: str) -> None:
    a.state, a.cleared_at = "cleared", now
    record(session, actor, "alarm.clear", f"alarm:{a.id}", camera=a.camera_id, region=a.region_code,
           kind=a.kind, reason=why)
    enqueue(session, "alarm.cleared", alarm_json(a), region_code=a.region_code, now=now)


def sync_alarms(session: Session, now: datetime | None = None, *, region: str | None = None,
                actor: str = "system", default_sla_hours: float = DEFAULT_SLA_HOURS) -> SyncReport:
    """Raise and clear alarms so they match every camera's current status; open work orders."""
    now = now or utcnow()
    q = select(Camera.id, Camera.region_code, Camera.lifecycle, CameraStatus.state, CameraStatus.since,
               CameraStatus.faults, CameraStatus.faults_since).outerjoin(
        CameraStatus, CameraStatus.camera_id == Camera.id)
    aq = select(Alarm).where(Alarm.state == "active")
    if region:  # one region of the instance's own (the system's scheduler may split the work)
        q, aq = q.where(in_subtree(Camera.region_code, region)), aq.where(in_subtree(Alarm.region_code, region))
    active: dict[str, dict[str, Alarm]] = {}
    for a in session.scalars(aq):
        active.setdefault(a.camera_id, {})[a.kind] = a
    raised = cleared = opened = 0
    for cam_id, code, lifecycle, state, since, faults, faults_since in session.execute(q):
        mine = active.pop(cam_id, {})
        if not is_in_service(lifecycle):
            for a in mine.values():
                _clear(session, a, now, actor, f"camera is {lifecycle}")
                cleared += 1
            continue
        if state is None and not mine:
            continue
        to_raise, to_clear = desired_alarms(state or "unknown", faults, set(mine))
        for kind in sorted(to_clear):
            _clear(session, mine[kind], now, actor, "recovered")
            cleared += 1
        for kind in sorted(to_raise):
            at = since if kind == "offline" else (faults_since or now)
            a = _raise(session, cam_id, code, kind, at or now, now, actor)
            raised += 1
            wo = open_for_alarm(session, a, now=now, actor=actor, default_sla_hours=default_sla_hours)
            opened += int(wo.history[-1].get("from") is None)  # a new order, not a re-attached one
    for mine in active.values():  # alarms of cameras that no longer exist in scope
        for a in mine.values():
            _clear(session, a, now, actor, "camera removed")
            cleared += 1
    return SyncReport(raised, cleared, opened)


def acknowledge(session: Session, alarm_id: int, *, actor: str, now: datetime | None = None) -> Alarm:
    """Record that a person has seen the alarm (it still clears on its own)."""
    a = session.get(Alarm, alarm_id)
    if a is None:
        raise NotFoundError(f"alarm {alarm_id} does not exist")
    now = now or utcnow()
    a.acknowledged_by = actor
    a.detail = {**(a.detail or {}), "acknowledged_at": now.isoformat()}
    record(session, actor, "alarm.ack", f"alarm:{a.id}", camera=a.camera_id, region=a.region_code, kind=a.kind)
    enqueue(session, "alarm.acknowledged", alarm_json(a), region_code=a.region_code, now=now)
    return a


def list_alarms(session: Session, *, scope: Scope, state: str | None = "active",
                camera_id: str | None = None, limit: int = 500) -> list[Alarm]:
    """Alarms within ``scope`` (the caller's, or ``Scope.everything()`` for the system), newest first."""
    q = select(Alarm).where(scope.clause(Alarm.region_code))
    if state:
        q = q.where(Alarm.state == state)
    if camera_id:
        q = q.where(Alarm.camera_id == camera_id)
    return list(session.scalars(q.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(limit)))


def page_alarms(session: Session, *, scope: Scope, state: str | None = "active", camera_id: str | None = None,
                kind: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Alarm], int]:
    """One page of matching alarms (newest first) and the true count of all that match."""
    where = [scope.clause(Alarm.region_code)]
    if state:
        where.append(Alarm.state == state)
    if camera_id:
        where.append(Alarm.camera_id == camera_id)
    if kind:
        where.append(Alarm.kind == kind)
    total = session.scalar(select(func.count()).select_from(Alarm).where(*where)) or 0
    rows = session.scalars(select(Alarm).where(*where).order_by(Alarm.raised_at.desc(), Alarm.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total
