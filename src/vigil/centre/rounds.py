"""Video patrol rounds (视频巡逻): a named list of cameras viewed in turn, marked normal or abnormal.

A round is due at given local hours, or at the start of its shift. A run started within the round's
grace time of a due slot is on time; one started later is late; a slot that passes its grace time with
no run becomes a ``missed`` run (:func:`missed_slots` is the pure rule, :func:`flag_missed` applies it).
An abnormal view can open an incident or, through a patrol alarm, a maintenance work order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.centre.models import Incident, IncidentItem, PatrolRound, RoundRun, RoundView, ShiftDef
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.models import Camera, Region, utcnow
from vigil.health.models import Alarm
from vigil.health.workorders import open_for_alarm

__all__ = ["create_round", "due_slots", "finish_run", "flag_missed", "list_rounds", "list_runs", "mark_view",
           "missed_slots", "run_views", "start_run"]

VIEW_STATES = ("normal", "abnormal")
FOLLOW_UPS = ("none", "incident", "workorder")


def due_slots(hours: Sequence[int], start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Pure: the UTC instants in ``[start, end)`` at which a round due at local ``hours`` falls."""
    out: list[datetime] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    while datetime.combine(day, time(0), tz) < end:
        for h in sorted(set(hours)):
            t = datetime.combine(day, time(h), tz).astimezone(start.tzinfo)
            if start <= t < end:
                out.append(t)
        day += timedelta(days=1)
    return out


def missed_slots(slots: Iterable[datetime], covered: Iterable[datetime], now: datetime,
                 grace: timedelta) -> list[datetime]:
    """Pure: the slots whose grace time has passed with no run for them."""
    have = set(covered)
    return [s for s in slots if s not in have and s + grace < now]


def _round_hours(session: Session, r: PatrolRound) -> tuple[list[int], int]:
    """The round's local hours, from its own list or its shift's start hour."""
    if r.hours:
        return [int(h) for h in r.hours], 0
    if r.shift_id is not None and (shift := session.get(ShiftDef, r.shift_id)) is not None:
        return [shift.start_minute // 60], shift.start_minute % 60
    return [], 0


def _slots(session: Session, r: PatrolRound, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    hours, minute = _round_hours(session, r)
    return [s + timedelta(minutes=minute) for s in due_slots(hours, start - timedelta(minutes=minute),
                                                             end - timedelta(minutes=minute), tz)]


def create_round(session: Session, *, region_code: str, name: str, cameras: Sequence[dict[str, Any]],
                 dwell_s: int = 20, checklist: Sequence[str] = (), hours: Sequence[int] = (),
                 shift_id: int | None = None, grace_minutes: int = 30, scope: Scope, actor: str) -> PatrolRound:
    """A round over cameras the caller sees, inside the centre's region."""
    ensure_visible(scope, region_code, f"region {region_code}")
    get_in_scope(session, Region, region_code, scope)
    if not name.strip() or not cameras:
        raise InputError("a round needs a name and at least one camera")
    if not 3 <= dwell_s <= 600 or any(not 0 <= int(h) <= 23 for h in hours):
        raise InputError("dwell time: 3 to 600 s; hours: 0 to 23")
    items = []
    for c in cameras:
        cid = str(c.get("camera_id", ""))
        cam = get_in_scope(session, Camera, cid, scope, what=f"camera {cid}")
        if not cam.region_code.startswith(region_code):
            raise InputError(f"camera {cid} is outside the round's region {region_code}")
        items.append({"camera_id": cid, "preset": str(c.get("preset") or "")})
    if shift_id is not None:
        get_in_scope(session, ShiftDef, shift_id, scope, what=f"shift {shift_id}")
    r = PatrolRound(region_code=region_code, name=name.strip(), cameras=items, dwell_s=dwell_s,
                    checklist=[str(x) for x in checklist], hours=sorted({int(h) for h in hours}), shift_id=shift_id,
                    grace_minutes=grace_minutes)
    session.add(r)
    session.flush()
    record(session, actor, "centre.round.define", f"round:{r.id}", region=region_code, cameras=len(items))
    return r


def list_rounds(session: Session, *, scope: Scope) -> list[PatrolRound]:
    """Rounds in ``scope``."""
    return list(session.scalars(select(PatrolRound).where(scope.clause(PatrolRound.region_code))
                                .order_by(PatrolRound.id)))


def start_run(session: Session, round_id: int, *, officer: str, scope: Scope, tz: ZoneInfo,
              now: datetime | None = None) -> RoundRun:
    """Start a run for the latest due slot of the last day that has none (late past the grace time)."""
    r = get_in_scope(session, PatrolRound, round_id, scope, what=f"round {round_id}")
    now = now or utcnow()
    grace = timedelta(minutes=r.grace_minutes)
    slots = _slots(session, r, now - timedelta(days=1), now + grace, tz)
    taken = set(session.scalars(select(RoundRun.due_at).where(RoundRun.round_id == r.id,
                                                              RoundRun.due_at.is_not(None))))
    free = [s for s in slots if s not in taken]
    due = free[-1] if free else None
    run = RoundRun(round_id=r.id, region_code=r.region_code, due_at=due, officer=officer, started_at=now,
                   state="running", late=bool(due is not None and now > due + grace))
    session.add(run)
    session.flush()
    record(session, officer, "centre.round.start", f"run:{run.id}", region=r.region_code, round=r.id,
           due_at=due.isoformat() if due else None, late=run.late)
    return run


def _incident_for_view(session: Session, run: RoundRun, cam: Camera, note: str, snapshot: str, actor: str,
                       now: datetime) -> Incident:
    inc = Incident(region_code=cam.region_code, title=f"Patrol: {cam.name}: {note or 'abnormal view'}"[:200],
                   created_by=actor, assignee=actor, created_at=now)
    session.add(inc)
    session.flush()
    session.add(IncidentItem(incident_id=inc.id, kind="snapshot" if snapshot else "note", ref=cam.id, at=now,
                             note=(f"{snapshot} " if snapshot else "") + note, by=actor, lon=cam.lon, lat=cam.lat))
    record(session, actor, "centre.incident.open", f"incident:{inc.id}", region=cam.region_code, run=run.id)
    return inc


def mark_view(session: Session, run_id: int, *, camera_id: str, status: str, note: str = "", snapshot: str = "",
              checks: dict[str, bool] | None = None, follow_up: str = "none", actor: str, scope: Scope,
              now: datetime | None = None) -> RoundView:
    """Mark one camera of a running run; an abnormal view may open an incident or a work order."""
    run = get_in_scope(session, RoundRun, run_id, scope, what=f"run {run_id}")
    r = session.get(PatrolRound, run.round_id)
    if r is None or camera_id not in {c["camera_id"] for c in r.cameras}:
        raise NotFoundError(f"camera {camera_id} not found")
    cam = get_in_scope(session, Camera, camera_id, scope, what=f"camera {camera_id}")
    if status not in VIEW_STATES or follow_up not in FOLLOW_UPS:
        raise InputError(f"status: one of {', '.join(VIEW_STATES)}; follow-up: one of {', '.join(FOLLOW_UPS)}")
    if follow_up != "none" and status != "abnormal":
        raise InputError("only an abnormal view opens an incident or a work order")
    if run.state != "running":
        raise ConflictError(f"run {run.id} is {run.state}")
    now = now or utcnow()
    view = RoundView(run_id=run.id, camera_id=camera_id, status=status, note=note.strip(), snapshot=snapshot,
                     checks=dict(checks or {}), at=now)
    if follow_up == "incident":
        view.incident_id = _incident_for_view(session, run, cam, view.note, snapshot, actor, now).id
    elif follow_up == "workorder":
        alarm = Alarm(camera_id=cam.id, region_code=cam.region_code, kind="patrol", severity="minor", state="active",
                      raised_at=now, acknowledged_by=actor, detail={"source": "patrol", "run": run.id,
                                                                    "note": view.note, "acknowledged_at": now.isoformat()})
        session.add(alarm)
        session.flush()
        record(session, actor, "alarm.raise", f"alarm:{alarm.id}", region=cam.region_code, camera=cam.id,
               kind="patrol")
        view.order_id = open_for_alarm(session, alarm, now=now, actor=actor).id
    session.add(view)
    session.flush()
    record(session, actor, "centre.round.view", f"run:{run.id}", region=run.region_code, camera=camera_id,
           status=status, follow_up=follow_up)
    return view


def finish_run(session: Session, run_id: int, *, actor: str, scope: Scope, now: datetime | None = None) -> RoundRun:
    """Finish a running run."""
    run = get_in_scope(session, RoundRun, run_id, scope, what=f"run {run_id}")
    if run.state != "running":
        raise ConflictError(f"run {run.id} is {run.state}")
    run.state, run.finished_at = "done", now or utcnow()
    seen = len(set(session.scalars(select(RoundView.camera_id).where(RoundView.run_id == run.id))))
    record(session, actor, "centre.round.finish", f"run:{run.id}", region=run.region_code, views=seen, late=run.late)
    return run


def flag_missed(session: Session, now: datetime | None = None, *, scope: Scope, tz: ZoneInfo,
                lookback: timedelta = timedelta(days=1)) -> list[RoundRun]:
    """Record a ``missed`` run for every due slot of the last ``lookback`` that passed its grace time unrun."""
    now = now or utcnow()
    out = []
    for r in list_rounds(session, scope=scope):
        grace = timedelta(minutes=r.grace_minutes)
        covered = [d for d in session.scalars(select(RoundRun.due_at).where(RoundRun.round_id == r.id)) if d]
        for slot in missed_slots(_slots(session, r, now - lookback, now, tz), covered, now, grace):
            run = RoundRun(round_id=r.id, region_code=r.region_code, due_at=slot, state="missed")
            session.add(run)
            session.flush()
            record(session, "system", "centre.round.missed", f"run:{run.id}", region=r.region_code,
                   round=r.id, due_at=slot.isoformat())
            out.append(run)
    return out


def run_views(session: Session, run_id: int) -> list[RoundView]:
    """The views of a run in the order marked."""
    return list(session.scalars(select(RoundView).where(RoundView.run_id == run_id).order_by(RoundView.id)))


def list_runs(session: Session, *, scope: Scope, limit: int = 100) -> list[RoundRun]:
    """Runs in ``scope``, newest first."""
    q = select(RoundRun).where(scope.clause(RoundRun.region_code)).order_by(RoundRun.id.desc()).limit(limit)
    return list(session.scalars(q))
