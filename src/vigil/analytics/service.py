"""Database-facing analytics functions: a camera's privacy masks, and event queries scoped to regions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, get_in_scope
from vigil.analytics.models import Event
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import Camera
from vigil.video.masks import mask_polygons

__all__ = ["EVENT_LOOKBACK", "EventFilter", "camera_masks", "camera_region", "event_conditions", "events_query",
           "get_event", "list_events"]

# How long before ``since`` an event may have started and still be listed for it (if it ended at or after
# ``since``). A bound on ``start`` lets PostgreSQL scan only the partitions of the period asked for.
EVENT_LOOKBACK = timedelta(days=1)


def camera_masks(session: Session, camera_id: str) -> list[list[list[float]]]:
    """The enabled privacy-mask polygons of a camera (normalised ``[[x, y], ...]``), from the video package."""
    return [[[float(x), float(y)] for x, y in poly] for poly in mask_polygons(session, camera_id)]


def camera_region(session: Session, camera_id: str) -> str:
    """The region code of a camera (raises :class:`NotFoundError`)."""
    code = session.scalar(select(Camera.region_code).where(Camera.id == camera_id))
    if code is None:
        raise NotFoundError(f"camera {camera_id} not found")
    return code


@dataclass(frozen=True, kw_only=True)
class EventFilter:
    """Which events to list; every field is optional."""

    camera: str | None = None
    region: str | None = None
    label: str | None = None
    type: str | None = None
    zone: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 1000 or self.offset < 0:
            raise InputError("limit must be 1..1000 and offset >= 0")
        if self.since and self.until and self.since > self.until:
            raise InputError("since must not be after until")


def event_conditions(scope: Scope, f: EventFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of :func:`list_events`: only ``start`` bounds the time, so partitions prune.

    An event is listed for ``since`` when it ended at or after ``since`` (having started at most
    :data:`EVENT_LOOKBACK` before it) or is still open and started at or after ``since``; for
    ``until`` when it started at or before ``until``.
    """
    conds = [scope.clause(Event.region_code)]
    if f.region:
        conds.append(Event.region_code.like(f"{f.region}%"))
    for col, val in ((Event.camera_id, f.camera), (Event.label, f.label), (Event.type, f.type),
                     (Event.zone, f.zone)):
        if val:
            conds.append(col == val)
    if f.since:
        conds.append(Event.start >= f.since - EVENT_LOOKBACK)
        conds.append(or_(Event.end >= f.since, and_(Event.end.is_(None), Event.start >= f.since)))
    if f.until:
        conds.append(Event.start <= f.until)
    return conds


def events_query(scope: Scope, f: EventFilter) -> Select[Event]:
    """The page of events :func:`list_events` returns, newest first (for EXPLAIN in the tests)."""
    return (select(Event).where(*event_conditions(scope, f)).order_by(Event.start.desc(), Event.id.desc())
            .limit(f.limit).offset(f.offset))


def list_events(session: Session, scope: Scope, f: EventFilter) -> tuple[int, list[Event]]:
    """Events inside ``scope`` matching ``f``, newest first, with the total count."""
    conds = event_conditions(scope, f)
    total = session.scalar(select(func.count()).select_from(Event).where(*conds)) or 0
    rows = session.scalars(events_query(scope, f)).all()
    return total, list(rows)


def get_event(session: Session, scope: Scope, event_id: int) -> Event:
    """One event, if it lies in ``scope`` (else :class:`NotFoundError`, as if it did not exist)."""
    return get_in_scope(session, Event, event_id, scope, what=f"event {event_id}")
