"""Work orders: one per alarm, assigned by region to a maintenance team, with an SLA clock.

Lifecycle::

    open ──assign──▶ assigned ──start──▶ in_progress ──resolve──▶ resolved ──verify ok──▶ closed
      │                  │                                             │
      └──────start───────┘ (a technician may start directly)            └─verify fails─▶ assigned (reopened)

* ``open``: raised automatically and given to the team whose region subtree is the
  most specific match for the camera; the SLA clock (``due_at``) starts.
* ``resolved`` means the technician says it is fixed. Only :func:`verify` may close an
  order: it re-probes the one camera (and re-diagnoses the picture for picture
  faults); if the camera is still down the order is reopened.
* A breach (``now > due_at`` while not closed) is flagged once by :func:`check_sla`.

Every transition appends to ``WorkOrder.history``, writes one audit entry
(``workorder.<state>``) and queues a webhook event (``workorder.<state>``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.models import Camera, Site, utcnow
from vigil.health.models import Alarm, MaintenanceTeam, WorkOrder
from vigil.notify.webhook import enqueue

__all__ = [
    "DEFAULT_SLA_HOURS",
    "STATES",
    "Recheck",
    "VerifyResult",
    "add_team",
    "apply_verification",
    "assign",
    "check_sla",
    "get_order",
    "list_orders",
    "open_for_alarm",
    "order_json",
    "order_cards",
    "page_orders",
    "resolve",
    "start",
    "team_for_region",
    "verify",
]

DEFAULT_SLA_HOURS = 24.0
STATES = ("open", "assigned", "in_progress", "resolved", "closed")
OPEN_STATES = ("open", "assigned", "in_progress", "resolved")

_ALLOWED: dict[str, set[str]] = {
    "open": {"assigned", "in_progress"},
    "assigned": {"assigned", "in_progress", "resolved"},
    "in_progress": {"assigned", "resolved"},
    "resolved": {"assigned", "closed"},
    "closed": set(),
}


def add_team(session: Session, name: str, region_code: str, *, contractor: str = "",
             sla_hours: float = DEFAULT_SLA_HOURS, actor: str = "system") -> MaintenanceTeam:
    """Create a maintenance team responsible for the ``region_code`` subtree."""
    from vigil.core.ids import validate_region_code
    from vigil.core.models import Region

    name = name.strip()
    if not name:
        raise InputError("team name must not be empty")
    code = validate_region_code(region_code)
    if session.get(Region, code) is None:
        raise NotFoundError(f"region {code} does not exist")
    if not 0 < sla_hours <= 24 * 90:
        raise InputError(f"SLA of {sla_hours} h: expected more than 0 and at most 2160 hours")
    if session.scalar(select(MaintenanceTeam.id).where(MaintenanceTeam.name == name)) is not None:
        raise ConflictError(f"team {name!r} already exists")
    team = MaintenanceTeam(name=name, contractor=contractor, region_code=code, sla_hours=sla_hours)
    session.add(team)
    session.flush()
    record(session, actor, "team.create", f"team:{name}", region=code, contractor=contractor, sla_hours=sla_hours)
    return team


def team_for_region(session: Session, region_code: str) -> MaintenanceTeam | None:
    """The team whose region is the longest prefix of ``region_code`` (the most specific), if any."""
    teams = session.scalars(select(MaintenanceTeam)).all()
    matching = [t for t in teams if region_code.startswith(t.region_code)]
    if not matching:
        return None
    return max(matching, key=lambda t: (len(t.region_code), -t.id))


def _event(session: Session, wo: WorkOrder, event: str, now: datetime, **extra: Any) -> None:
    payload = {"id": wo.id, "camera_id": wo.camera_id, "region_code": wo.region_code, "state": wo.state,
               "team_id": wo.team_id, "assigned_to": wo.assigned_to, "due_at": wo.due_at.isoformat(),
               "breached": wo.breached, **extra}
    enqueue(session, f"workorder.{event}", payload, region_code=wo.region_code, now=now)


def _move(session: Session, wo: WorkOrder, to: str, *, actor: str, now: datetime, note: str = "",
          **detail: Any) -> None:
    """Apply one transition: state, history, audit entry and webhook event."""
    frm = wo.state
    if to not in _ALLOWED[frm] and not (frm == to == "open"):
        raise ConflictError(f"work order {wo.id} is {frm}; it cannot become {to}")
    wo.state = to
    entry = {"ts": now.isoformat(), "actor": actor, "from": frm, "to": to}
    if note:
        entry["note"] = note
    entry.update({k: v for k, v in detail.items() if v not in (None, "")})
    wo.history = [*(wo.history or []), entry]
    session.flush()
    name = "reopened" if (frm, to) == ("resolved", "assigned") else to if frm != to else "updated"
    record(session, actor, f"workorder.{name}", f"workorder:{wo.id}", camera=wo.camera_id,
           region=wo.region_code, **{"from": frm, "to": to}, note=note, **detail)
    _event(session, wo, name, now, note=note)


def open_for_alarm(session: Session, alarm: Alarm, *, now: datetime | None = None, actor: str = "system",
                   default_sla_hours: float = DEFAULT_SLA_HOURS) -> WorkOrder:
    """Open a work order for ``alarm``, or attach it to the camera's unclosed order of the same kind."""
    now = now or utcnow()
    existing = session.scalar(
        select(WorkOrder).join(Alarm, Alarm.id == WorkOrder.alarm_id)
        .where(WorkOrder.camera_id == alarm.camera_id, WorkOrder.state.in_(OPEN_STATES),
               Alarm.kind == alarm.kind).order_by(WorkOrder.id.desc()).limit(1))
    if existing is not None:
        existing.alarm_id = alarm.id
        existing.history = [*(existing.history or []), {"ts": now.isoformat(), "actor": actor,
                                                         "from": existing.state, "to": existing.state,
                                                         "note": f"alarm {alarm.id} ({alarm.kind}) raised again"}]
        record(session, actor, "workorder.update", f"workorder:{existing.id}", alarm=alarm.id,
               note="alarm raised again")
        return existing
    team = team_for_region(session, alarm.region_code)
    sla = team.sla_hours if team is not None and team.sla_hours > 0 else default_sla_hours
    wo = WorkOrder(alarm_id=alarm.id, camera_id=alarm.camera_id, region_code=alarm.region_code,
                   team_id=team.id if team else None, state="open", opened_at=now,
                   due_at=now + timedelta(hours=sla), history=[])
    session.add(wo)
    session.flush()
    entry = {"ts": now.isoformat(), "actor": actor, "from": None, "to": "open", "alarm": alarm.id,
             "kind": alarm.kind, "team": team.name if team else None, "sla_hours": sla}
    wo.history = [entry]
    record(session, actor, "workorder.open", f"workorder:{wo.id}", camera=wo.camera_id, region=wo.region_code,
           alarm=alarm.id, kind=alarm.kind, team=team.name if team else None, due_at=wo.due_at.isoformat())
    _event(session, wo, "open", now, kind=alarm.kind)
    return wo


def order_json(w: WorkOrder) -> dict[str, Any]:
    """A JSON-ready view of a work order with its history (CLI and API)."""
    iso = {k: (getattr(w, k).isoformat() if getattr(w, k) else None)
           for k in ("opened_at", "due_at", "resolved_at", "verified_at", "closed_at")}
    return {"id": w.id, "alarm_id": w.alarm_id, "camera_id": w.camera_id, "region_code": w.region_code,
            "team_id": w.team_id, "state": w.state, "assigned_to": w.assigned_to, "breached": w.breached,
            **iso, "history": w.history or []}


def order_cards(session: Session, orders: list[WorkOrder]) -> list[dict[str, Any]]:
    """:func:`order_json` with what the maintenance queue shows beside it: the camera's name, place and site."""
    ids = {w.camera_id for w in orders}
    facts = {cid: {"name": name, "lon": lon, "lat": lat, "site_id": site_id, "site": site}
             for cid, name, lon, lat, site_id, site in session.execute(
                 select(Camera.id, Camera.name, Camera.lon, Camera.lat, Camera.site_id, Site.name)
                 .outerjoin(Site, Site.id == Camera.site_id).where(Camera.id.in_(ids)))} if ids else {}
    return [order_json(w) | {"camera": facts.get(w.camera_id)} for w in orders]


def get_order(session: Session, order_id: int) -> WorkOrder:
    """The work order ``order_id`` or :class:`NotFoundError`."""
    wo = session.get(WorkOrder, order_id)
    if wo is None:
        raise NotFoundError(f"work order {order_id} does not exist")
    return wo


def _order_filters(*, scope: Scope, state: str | None, team_id: int | None, breached: bool | None = None,
                   kind: str | None = None, now: datetime | None = None) -> list[Any]:
    """WHERE clauses for work orders: scope, state ("open": every unclosed one), team, SLA and alarm kind."""
    where: list[Any] = [scope.clause(WorkOrder.region_code)]
    if state == "open":
        where.append(WorkOrder.state.in_(OPEN_STATES))
    elif state:
        if state not in STATES:
            raise InputError(f"unknown work-order state {state!r}; states: {', '.join(STATES)}")
        where.append(WorkOrder.state == state)
    if team_id is not None:
        where.append(WorkOrder.team_id == team_id)
    if breached is not None:
        # past its deadline: flagged by the SLA sweep, or still unclosed after due_at
        late = or_(WorkOrder.breached.is_(True), and_(WorkOrder.closed_at.is_(None), WorkOrder.due_at < (now or utcnow())))
        where.append(late if breached else not_(late))
    if kind:
        where.append(WorkOrder.alarm_id.in_(select(Alarm.id).where(Alarm.kind == kind)))
    return where


def list_orders(session: Session, *, scope: Scope, state: str | None = None,
                team_id: int | None = None, limit: int = 200) -> list[WorkOrder]:
    """Work orders in ``scope``, newest first; ``state="open"`` means every unclosed one."""
    where = _order_filters(scope=scope, state=state, team_id=team_id)
    return list(session.scalars(select(WorkOrder).where(*where).order_by(WorkOrder.id.desc()).limit(limit)))


def page_orders(session: Session, *, scope: Scope, state: str | None = None, team_id: int | None = None,
                breached: bool | None = None, kind: str | None = None, limit: int = 50, offset: int = 0,
                now: datetime | None = None) -> tuple[list[WorkOrder], int]:
    """One page of matching work orders (earliest deadline first) and the true count of all that match."""
    where = _order_filters(scope=scope, state=state, team_id=team_id, breached=breached, kind=kind, now=now)
    total = session.scalar(select(func.count()).select_from(WorkOrder).where(*where)) or 0
    rows = session.scalars(select(WorkOrder).where(*where).order_by(WorkOrder.due_at, WorkOrder.id)
                           .limit(limit).offset(offset))
    return list(rows), total


def assign(session: Session, order_id: int, technician: str, *, actor: str,
           now: datetime | None = None) -> WorkOrder:
    """Name the technician responsible (re-assigning is allowed until the order is resolved)."""
    technician = technician.strip()
    if not technician:
        raise InputError("technician name must not be empty")
    wo = get_order(session, order_id)
    wo.assigned_to = technician
    _move(session, wo, "assigned", actor=actor, now=now or utcnow(), technician=technician)
    return wo


def start(session: Session, order_id: int, *, actor: str, now: datetime | None = None) -> WorkOrder:
    """The technician is working on it."""
    wo = get_order(session, order_id)
    if not wo.assigned_to:
        wo.assigned_to = actor
    _move(session, wo, "in_progress", actor=actor, now=now or utcnow())
    return wo


def resolve(session: Session, order_id: int, *, actor: str, note: str = "",
            now: datetime | None = None) -> WorkOrder:
    """The technician says it is fixed; the order waits for verification by re-probe."""
    wo = get_order(session, order_id)
    now = now or utcnow()
    _move(session, wo, "resolved", actor=actor, now=now, note=note)
    wo.resolved_at = now
    return wo


def check_sla(session: Session, *, now: datetime | None = None, actor: str = "system") -> list[int]:
    """Flag every unclosed order past its due time (once); returns the ids newly breached."""
    now = now or utcnow()
    late = session.scalars(select(WorkOrder).where(WorkOrder.state.in_(OPEN_STATES),
                                                   WorkOrder.breached.is_(False), WorkOrder.due_at < now)).all()
    for wo in late:
        wo.breached = True
        overdue_h = round((now - wo.due_at).total_seconds() / 3600, 3)
        wo.history = [*(wo.history or []), {"ts": now.isoformat(), "actor": actor, "from": wo.state,
                                             "to": wo.state, "note": "SLA breached", "overdue_h": overdue_h}]
        record(session, actor, "workorder.breach", f"workorder:{wo.id}", camera=wo.camera_id,
               region=wo.region_code, due_at=wo.due_at.isoformat(), overdue_h=overdue_h)
        _event(session, wo, "breached", now, overdue_h=overdue_h)
    return [wo.id for wo in late]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of a verification re-probe."""

    order_id: int
    ok: bool
    state: str
    detail: str


# (vigil, camera_id, alarm kind) -> (recovered?, explanation)
Recheck = Callable[[Vigil, str, str], Awaitable[tuple[bool, str]]]


def apply_verification(session: Session, order_id: int, ok: bool, detail: str, *, actor: str,
                       now: datetime | None = None) -> VerifyResult:
    """Close a resolved order whose re-probe succeeded, or reopen it (back to ``assigned``)."""
    now = now or utcnow()
    wo = get_order(session, order_id)
    if wo.state != "resolved":
        raise ConflictError(f"work order {order_id} is {wo.state}; only a resolved order can be verified")
    if ok:
        wo.verified_at = wo.closed_at = now
        if now > wo.due_at:
            wo.breached = True
        _move(session, wo, "closed", actor=actor, now=now, note=f"verified by re-probe: {detail}")
    else:
        wo.resolved_at = None
        _move(session, wo, "assigned", actor=actor, now=now, note=f"verification failed: {detail}")
    return VerifyResult(wo.id, ok, wo.state, detail)


async def default_recheck(vigil: Vigil, camera_id: str, kind: str) -> tuple[bool, str]:
    """Re-probe the camera (and re-diagnose its picture for picture-fault alarms)."""
    from vigil.health.recheck import recheck_camera

    return await recheck_camera(vigil, camera_id, kind)


async def verify(vigil: Vigil, order_id: int, *, actor: str, now: datetime | None = None,
                 recheck: Recheck | None = None) -> VerifyResult:
    """Re-probe the order's camera now and close or reopen the order accordingly."""
    with vigil.db.session() as s:
        wo = get_order(s, order_id)
        if wo.state != "resolved":
            raise ConflictError(f"work order {order_id} is {wo.state}; resolve it before verifying")
        alarm = s.get(Alarm, wo.alarm_id) if wo.alarm_id else None
        camera_id, kind = wo.camera_id, alarm.kind if alarm else "offline"
    try:
        ok, detail = await (recheck or default_recheck)(vigil, camera_id, kind)
    except Exception as exc:  # a re-probe that cannot run is a failed verification, not a crash
        ok, detail = False, f"re-probe could not run: {type(exc).__name__}: {exc}"
    with vigil.db.session() as s:
        return apply_verification(s, order_id, ok, detail, actor=actor, now=now)


def pending_verification(session: Session, *, resolved_before: datetime | None = None) -> list[int]:
    """Ids of resolved orders waiting for their re-probe (resolved before ``resolved_before``, if given)."""
    q = select(WorkOrder.id).where(WorkOrder.state == "resolved")
    if resolved_before is not None:
        q = q.where(WorkOrder.resolved_at <= resolved_before)
    return list(session.scalars(q.order_by(WorkOrder.id)))


def count_open(session: Session) -> int:
    """How many orders are not closed."""
    return int(session.scalar(select(func.count()).where(WorkOrder.state.in_(OPEN_STATES))) or 0)
