"""Incidents (研判) and case files (图侦): timelines of places, times and video, with a chain of custody.

An incident's timeline holds events, alarms, clips (retrieval requests), snapshots, map positions and
notes; every referenced object must lie in the caller's scope. A case file groups incidents and
retrieval requests under a case number; its reason is recorded with every view and export of it. The
export package lists who made it, when, why, and the SHA-256 of every file. No identity features: the
file never holds a face or plate index.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.access.users import Principal
from vigil.analytics.models import Event
from vigil.centre.models import CaseExport, CaseFile, CaseRetrieval, Incident, IncidentItem
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.models import Camera, Region, utcnow
from vigil.health.models import Alarm
from vigil.video.models import Export, RetrievalRequest
from vigil.video.retrieval import request_retrieval

__all__ = ["ITEM_KINDS", "STATUSES", "add_item", "case_json", "create_case", "create_incident", "export_case",
           "incident_json", "link_to_case", "list_cases", "case_reason", "request_for_case", "list_incidents", "sha256_file", "update_incident",
           "view_case"]

ITEM_KINDS = ("event", "alarm", "clip", "snapshot", "position", "note")
STATUSES = ("open", "investigating", "closed")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def create_incident(session: Session, *, region_code: str, title: str, assignee: str = "", actor: str,
                    scope: Scope) -> Incident:
    """Open an incident in a region the caller sees."""
    ensure_visible(scope, region_code, f"region {region_code}")
    get_in_scope(session, Region, region_code, scope)
    if not title.strip():
        raise InputError("an incident needs a title")
    inc = Incident(region_code=region_code, title=title.strip()[:200], assignee=assignee.strip(), created_by=actor)
    session.add(inc)
    session.flush()
    record(session, actor, "centre.incident.open", f"incident:{inc.id}", region=region_code)
    return inc


def _request_in_scope(session: Session, request_id: int, scope: Scope) -> RetrievalRequest:
    req = session.get(RetrievalRequest, request_id)
    cam = session.get(Camera, req.camera_id) if req is not None else None
    if req is None or cam is None:
        raise NotFoundError(f"retrieval request {request_id} not found")
    ensure_visible(scope, cam.region_code, f"retrieval request {request_id}")
    return req


def _int(ref: str, what: str) -> int:
    try:
        return int(ref)
    except ValueError:
        raise NotFoundError(f"{what} {ref} not found") from None


def add_item(session: Session, incident_id: int, *, kind: str, ref: str = "", note: str = "",
             lon: float | None = None, lat: float | None = None, at: datetime | None = None, actor: str,
             scope: Scope) -> IncidentItem:
    """Add one timeline entry; the object it names must be in scope."""
    inc = get_in_scope(session, Incident, incident_id, scope, what=f"incident {incident_id}")
    if kind not in ITEM_KINDS:
        raise InputError(f"item kind {kind!r}: one of {', '.join(ITEM_KINDS)}")
    when = at
    if kind == "event":
        ev = get_in_scope(session, Event, _int(ref, "event"), scope, what=f"event {ref}")
        when, cam_id = when or ev.start, ev.camera_id
    elif kind == "alarm":
        al = get_in_scope(session, Alarm, _int(ref, "alarm"), scope, what=f"alarm {ref}")
        when, cam_id = when or al.raised_at, al.camera_id
    elif kind == "clip":
        req = _request_in_scope(session, _int(ref, "retrieval request"), scope)
        when, cam_id = when or req.start, req.camera_id
    elif kind == "snapshot":
        cam_id = get_in_scope(session, Camera, ref, scope, what=f"camera {ref}").id
    else:
        cam_id = None
        if kind == "position" and (lon is None or lat is None):
            raise InputError("a map position needs lon and lat")
        if kind == "note" and not note.strip():
            raise InputError("a note needs text")
    if cam_id and lon is None:
        cam = session.get(Camera, cam_id)
        lon, lat = (cam.lon, cam.lat) if cam is not None else (None, None)
    item = IncidentItem(incident_id=inc.id, kind=kind, ref=str(ref), note=note.strip(), lon=lon, lat=lat,
                        at=when or utcnow(), by=actor)
    session.add(item)
    session.flush()
    record(session, actor, "centre.incident.item", f"incident:{inc.id}", region=inc.region_code, kind=kind, ref=ref)
    return item


def update_incident(session: Session, incident_id: int, *, status: str | None = None, assignee: str | None = None,
                    actor: str, scope: Scope) -> Incident:
    """Change an incident's status or assignee (audited)."""
    inc = get_in_scope(session, Incident, incident_id, scope, what=f"incident {incident_id}")
    if status is not None:
        if status not in STATUSES:
            raise InputError(f"status {status!r}: one of {', '.join(STATUSES)}")
        inc.status = status
        inc.closed_at = utcnow() if status == "closed" else None
    if assignee is not None:
        inc.assignee = assignee.strip()
    record(session, actor, "centre.incident.update", f"incident:{inc.id}", region=inc.region_code,
           status=inc.status, assignee=inc.assignee)
    return inc


def list_incidents(session: Session, *, scope: Scope, region: str | None = None, limit: int = 200) -> list[Incident]:
    """Incidents in ``scope`` (optionally one visible region's subtree), newest first."""
    if region:
        ensure_visible(scope, region, f"region {region}")
        scope = scope.narrowed(region)
    q = select(Incident).where(scope.clause(Incident.region_code)).order_by(Incident.id.desc()).limit(limit)
    return list(session.scalars(q))


def incident_json(session: Session, inc: Incident) -> dict[str, Any]:
    """An incident with its timeline, oldest entry first."""
    items = session.scalars(select(IncidentItem).where(IncidentItem.incident_id == inc.id)
                            .order_by(IncidentItem.at, IncidentItem.id))
    return {"id": inc.id, "region_code": inc.region_code, "title": inc.title, "status": inc.status,
            "assignee": inc.assignee, "created_by": inc.created_by, "created_at": inc.created_at.isoformat(),
            "case_id": inc.case_id,
            "timeline": [{"id": i.id, "kind": i.kind, "ref": i.ref, "note": i.note, "lon": i.lon, "lat": i.lat,
                          "at": i.at.isoformat(), "by": i.by} for i in items]}


# ----------------------------------------------------------------------------- case files
def create_case(session: Session, *, number: str, region_code: str, title: str, reason: str, actor: str,
                scope: Scope) -> CaseFile:
    """Open a case file under a unique case number."""
    ensure_visible(scope, region_code, f"region {region_code}")
    get_in_scope(session, Region, region_code, scope)
    number, reason = number.strip(), reason.strip()
    if not number or not title.strip() or len(reason) < 4:
        raise InputError("a case needs a number, a title and a reason")
    if session.scalar(select(CaseFile.id).where(CaseFile.number == number)) is not None:
        raise ConflictError(f"case number {number} is already taken")
    c = CaseFile(number=number, region_code=region_code, title=title.strip(), reason=reason, created_by=actor)
    session.add(c)
    session.flush()
    record(session, actor, "centre.case.open", f"case:{c.id}", region=region_code, number=number, reason=reason)
    return c


def link_to_case(session: Session, case_id: int, *, incident_id: int | None = None, request_id: int | None = None,
                 actor: str, scope: Scope) -> CaseFile:
    """File an incident or a retrieval request under a case (both must be in scope)."""
    c = get_in_scope(session, CaseFile, case_id, scope, what=f"case {case_id}")
    if (incident_id is None) == (request_id is None):
        raise InputError("name exactly one of incident_id and request_id")
    if incident_id is not None:
        inc = get_in_scope(session, Incident, incident_id, scope, what=f"incident {incident_id}")
        inc.case_id = c.id
    else:
        assert request_id is not None
        _request_in_scope(session, request_id, scope)
        if session.get(CaseRetrieval, (c.id, request_id)) is None:
            session.add(CaseRetrieval(case_id=c.id, request_id=request_id))
    record(session, actor, "centre.case.link", f"case:{c.id}", region=c.region_code, incident=incident_id,
           request=request_id, reason=c.reason)
    return c


def case_reason(c: CaseFile) -> str:
    """The reason every retrieval filed under a case carries: its number and its reason."""
    return f"case {c.number}: {c.reason}"


def request_for_case(session: Session, case_id: int, p: Principal, *, camera_id: str, start: datetime,
                     end: datetime, kind: str = "view") -> RetrievalRequest:
    """File a retrieval request under a case, with the case's reason (the video rules apply as usual)."""
    c = get_in_scope(session, CaseFile, case_id, p, what=f"case {case_id}")
    req = request_retrieval(session, p, camera_id, start, end, kind=kind, reason=case_reason(c))
    session.add(CaseRetrieval(case_id=c.id, request_id=req.id))
    record(session, p.name, "centre.case.link", f"case:{c.id}", region=c.region_code, request=req.id,
           reason=c.reason)
    return req


def list_cases(session: Session, *, scope: Scope) -> list[CaseFile]:
    """Case files in ``scope``, newest first."""
    return list(session.scalars(select(CaseFile).where(scope.clause(CaseFile.region_code))
                                .order_by(CaseFile.id.desc())))


def case_json(session: Session, c: CaseFile, *, scope: Scope) -> dict[str, Any]:
    """A case with its incidents (and timelines) and retrieval requests; only what ``scope`` sees."""
    incs = session.scalars(select(Incident).where(Incident.case_id == c.id, scope.clause(Incident.region_code)))
    reqs = session.execute(select(RetrievalRequest, Camera.region_code)
                           .join(CaseRetrieval, CaseRetrieval.request_id == RetrievalRequest.id)
                           .join(Camera, Camera.id == RetrievalRequest.camera_id)
                           .where(CaseRetrieval.case_id == c.id, scope.clause(Camera.region_code)))
    return {"id": c.id, "number": c.number, "region_code": c.region_code, "title": c.title, "reason": c.reason,
            "created_by": c.created_by, "created_at": c.created_at.isoformat(),
            "incidents": [incident_json(session, i) for i in incs],
            "retrievals": [{"id": r.id, "camera_id": r.camera_id, "start": r.start.isoformat(),
                            "end": r.end.isoformat(), "state": r.state, "reason": r.reason} for r, _ in reqs]}


def view_case(session: Session, case_id: int, *, actor: str, scope: Scope) -> dict[str, Any]:
    """Open a case (the view is audited with the case's reason)."""
    c = get_in_scope(session, CaseFile, case_id, scope, what=f"case {case_id}")
    record(session, actor, "centre.case.view", f"case:{c.id}", region=c.region_code, reason=c.reason)
    return case_json(session, c, scope=scope)


def export_case(session: Session, case_id: int, *, exports_dir: Path, actor: str, scope: Scope,
                now: datetime | None = None) -> CaseExport:
    """Write the case's package: case.json, the linked exports' files, and custody.json (SHA-256 of each)."""
    c = get_in_scope(session, CaseFile, case_id, scope, what=f"case {case_id}")
    now = now or utcnow()
    body = case_json(session, c, scope=scope)
    out = exports_dir / "cases" / f"case-{c.id}-{now:%Y%m%dT%H%M%S%f}"
    out.mkdir(parents=True, exist_ok=False)
    (out / "case.json").write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    req_ids = [r["id"] for r in body["retrievals"]]
    for e in session.scalars(select(Export).where(Export.request_id.in_(req_ids))) if req_ids else ():
        src = Path(e.path)
        for f in sorted(src.iterdir()) if src.is_dir() else ():
            if f.is_file():
                shutil.copyfile(f, out / f"request-{e.request_id}-{f.name}")
    files = [{"name": f.name, "bytes": f.stat().st_size, "sha256": sha256_file(f)}
             for f in sorted(out.iterdir()) if f.is_file()]
    custody = {"case": c.number, "who": actor, "when": now.isoformat(), "why": c.reason, "files": files,
               "chain": [{"who": actor, "when": now.isoformat(), "action": "exported", "why": c.reason}]}
    (out / "custody.json").write_text(json.dumps(custody, ensure_ascii=False, indent=1), encoding="utf-8")
    ex = CaseExport(case_id=c.id, region_code=c.region_code, path=str(out), custody=custody, created_by=actor,
                    created_at=now)
    session.add(ex)
    session.flush()
    record(session, actor, "centre.case.export", f"case:{c.id}", region=c.region_code, reason=c.reason,
           files=[(f["name"], f["sha256"]) for f in files])
    return ex
