"""Analytics events: list and filter (camera, region, label, type, zone, time), detail, snapshot download."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from vigil.access.users import Principal
from vigil.analytics.models import Event
from vigil.analytics.service import EventFilter, get_event, list_events
from vigil.api.contract import media
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.public.video import EventPagePublic, EventPublic
from vigil.core.errors import NotFoundError

router = APIRouter()

Reader = Annotated[Principal, Depends(require("events.read"))]


def event_json(e: Event) -> dict[str, Any]:
    """Public shape of an event (the snapshot as a link, never a file path)."""
    return {"id": e.id, "uid": e.uid, "camera_id": e.camera_id, "region_code": e.region_code, "type": e.type,
            "label": e.label, "start": e.start, "end": e.end, "zone": e.zone, "direction": e.direction,
            "box": e.box, "score": e.score, "clip_url": e.clip_url,
            "snapshot_url": f"/api/v1/events/{e.id}/snapshot" if e.snapshot_path else None}


@router.get("", response_model=EventPagePublic)
def events_list(p: Reader, session: SessionDep, camera: str | None = None, region: str | None = None,
                label: str | None = None, type: str | None = None, zone: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    """Events in the caller's regions, newest first."""
    f = EventFilter(camera=camera, region=region, label=label, type=type, zone=zone, since=since, until=until,
                    limit=limit, offset=offset)
    total, rows = list_events(session, p.scope, f)
    return {"items": [event_json(e) for e in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{event_id}", response_model=EventPublic)
def event_detail(event_id: int, p: Reader, session: SessionDep) -> dict:
    """One event (404 outside the caller's regions)."""
    return event_json(get_event(session, p.scope, event_id))


@router.get("/{event_id}/snapshot", response_class=FileResponse,
            responses=media("image/jpeg", description="the snapshot"))
def event_snapshot(event_id: int, p: Reader, session: SessionDep, v: VigilDep) -> FileResponse:
    """The event's JPEG snapshot (privacy masks already blacked out)."""
    ev = get_event(session, p.scope, event_id)
    path = Path(ev.snapshot_path).resolve() if ev.snapshot_path else None
    if path is None or not path.is_relative_to(Path(v.settings.home).resolve()) or not path.is_file():
        raise NotFoundError(f"event {event_id} has no snapshot")
    return FileResponse(path, media_type="image/jpeg", filename=f"event-{event_id}.jpg")
