"""Retrieval of recorded video: request with a reason, second-person approval, audited view and export.

Rules (调阅管理保存制度):
- every request states a reason; the requester needs ``video.retrieve`` and the camera in scope;
- a camera on a class-1 or sensitive site needs approval by a second person holding
  ``video.approve`` before anything is shown or exported; others are approved on filing; the
  approver must not have created the requester's account, nor been created by it;
- only the requester uses a request; every view, export and refusal is written to the audit log;
- exports are MP4 plus a manifest with the SHA-256 of each file, signed by the instance; privacy
  masks are blacked out in exports and playback (the one case that re-encodes).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import check_permission, ensure_visible, get_in_scope
from vigil.access.users import Principal, related_accounts
from vigil.core.context import Vigil
from vigil.core.errors import AccessDenied, ConflictError, InputError, NotFoundError
from vigil.core.models import Camera, Site, utcnow
from vigil.video import clips, manifest
from vigil.video.masks import mask_polygons
from vigil.video.models import (
    Export,
    RecordingSegment,
    RetrievalKind,
    RetrievalRequest,
    RetrievalState,
)
from vigil.video.nodes import local_copies

__all__ = [
    "MAX_RANGE",
    "decide",
    "export",
    "export_file",
    "get_request",
    "list_requests",
    "needs_approval",
    "request_retrieval",
    "segments_for",
    "view",
]

MAX_RANGE = timedelta(hours=24)
MIN_REASON = 5


def needs_approval(session: Session, cam: Camera) -> bool:
    """True if the camera watches a class-1 or sensitive site."""
    site = session.get(Site, cam.site_id) if cam.site_id is not None else None
    return bool(site and (site.protection_class == 1 or site.sensitive))


def _camera(session: Session, p: Principal, camera_id: str) -> Camera:
    return get_in_scope(session, Camera, camera_id, p, what=f"camera {camera_id}")


def request_retrieval(session: Session, p: Principal, camera_id: str, start: datetime, end: datetime, *,
                      kind: RetrievalKind | str, reason: str) -> RetrievalRequest:
    """File a request; it is approved at once unless the camera's site needs a second person."""
    check_permission(p, "video.retrieve")
    cam = _camera(session, p, camera_id)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise InputError(f"a reason is required (at least {MIN_REASON} characters)")
    try:
        kind = RetrievalKind(kind)
    except ValueError as exc:
        raise InputError("kind must be 'view' or 'export'") from exc
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("start and end need a time zone (UTC)")
    if not start < end or end - start > MAX_RANGE:
        raise InputError(f"the time range must be positive and at most {MAX_RANGE}")
    needs = needs_approval(session, cam)
    req = RetrievalRequest(requester=p.name, camera_id=cam.id, start=start, end=end, kind=kind.value,
                           reason=reason, needs_approval=needs,
                           state=(RetrievalState.PENDING if needs else RetrievalState.APPROVED).value)
    session.add(req)
    session.flush()
    record(session, p.name, "video.retrieve.request", f"camera:{cam.id}", region=cam.region_code, request=req.id,
           kind=kind.value, start=start.isoformat(), end=end.isoformat(), reason=reason, needs_approval=needs)
    return req


def _request(session: Session, p: Principal, request_id: int, *, what: str = "") -> RetrievalRequest:
    """The request if its camera is in scope; else not found, naming only ``what`` (never the camera)."""
    req = session.get(RetrievalRequest, request_id)
    cam = session.get(Camera, req.camera_id) if req is not None else None
    ensure_visible(p, cam.region_code if cam is not None else None, what or f"retrieval request {request_id}")
    assert req is not None
    return req


def _region(session: Session, camera_id: str) -> str | None:
    cam = session.get(Camera, camera_id)
    return cam.region_code if cam else None


def decide(session: Session, p: Principal, request_id: int, *, approve: bool, note: str = "") -> RetrievalRequest:
    """Approve or deny a pending request; the approver must be a second person with ``video.approve``."""
    check_permission(p, "video.approve")
    req = _request(session, p, request_id)
    if req.requester == p.name:
        raise AccessDenied("a request must be approved by a second person, not by its requester")
    if why := related_accounts(session, req.requester, p.name):
        raise AccessDenied(f"a request must be approved by an independent second person: {why}")
    if req.state != RetrievalState.PENDING.value:
        raise ConflictError(f"request {req.id} is already {req.state}")
    req.state = (RetrievalState.APPROVED if approve else RetrievalState.DENIED).value
    req.approver, req.decided_at, req.decision_note = p.name, utcnow(), note.strip()
    record(session, p.name, "video.retrieve." + ("approve" if approve else "deny"), f"camera:{req.camera_id}",
           region=_region(session, req.camera_id), request=req.id, requester=req.requester, note=req.decision_note)
    return req


def get_request(session: Session, p: Principal, request_id: int) -> RetrievalRequest:
    """One request, for its requester or an approver in scope."""
    req = _request(session, p, request_id)
    if req.requester != p.name and not p.can("video.approve"):
        raise NotFoundError(f"retrieval request {request_id} not found")
    return req


def list_requests(session: Session, p: Principal, *, state: str | None = None) -> list[RetrievalRequest]:
    """The caller's own requests, plus (for approvers) every request in scope."""
    q = select(RetrievalRequest).join(Camera, Camera.id == RetrievalRequest.camera_id)
    if state:
        q = q.where(RetrievalRequest.state == state)
    if not p.can("video.approve"):
        q = q.where(RetrievalRequest.requester == p.name)
    q = q.where(p.scope.clause(Camera.region_code))
    return list(session.scalars(q.order_by(RetrievalRequest.id.desc()).limit(500)))


def segments_for(session: Session, camera_id: str, start: datetime, end: datetime) -> list[RecordingSegment]:
    """Indexed segments of a camera overlapping ``[start, end)``, oldest first."""
    return list(session.scalars(
        select(RecordingSegment).where(RecordingSegment.camera_id == camera_id, RecordingSegment.end > start,
                                       RecordingSegment.start < end).order_by(RecordingSegment.start)))


def _authorise(v: Vigil, p: Principal, request_id: int, use: RetrievalKind) -> RetrievalRequest:
    """Check the caller may use the request now; audit and raise on refusal."""
    with v.db.session() as s:
        check_permission(p, "video.retrieve")
        req = _request(s, p, request_id)
        cam = s.get(Camera, req.camera_id)
        problem = ""
        if req.requester != p.name:
            problem = "only the requester may use a retrieval request"
        elif req.state != RetrievalState.APPROVED.value:
            problem = f"request {req.id} is {req.state}: it needs approval by a second person"
        elif cam is not None and needs_approval(s, cam) and not req.approver:
            problem = f"request {req.id} needs approval by a second person (the site is now protected)"
        elif use == RetrievalKind.EXPORT and req.kind != RetrievalKind.EXPORT.value:
            problem = f"request {req.id} allows viewing only, not export"
    if problem:
        with v.db.session() as s:
            record(s, p.name, "video.retrieve.refused", f"camera:{req.camera_id}",
                   region=_region(s, req.camera_id), request=req.id,
                   use=use.value, why=problem)
        raise AccessDenied(problem)
    return req


def _masks_tag(masks: list[list[list[float]]]) -> str:
    """A short name for a set of mask polygons (``plain`` for none)."""
    if not masks:
        return "plain"
    return hashlib.sha256(json.dumps(masks, separators=(",", ":")).encode()).hexdigest()[:16]


def view(v: Vigil, p: Principal, request_id: int, *, audit: bool = True) -> Path:
    """An MP4 of the request's range for playback, masks blacked out; audited unless ``audit`` is False.

    A camera without privacy masks is stream-copied; a masked one is re-encoded (:func:`clips.make_clip`).

    The API audits the first request of a playback and not the byte-range requests that follow.
    """
    req = _authorise(v, p, request_id, RetrievalKind.VIEW)
    with v.db.session() as s:
        segs = segments_for(s, req.camera_id, req.start, req.end)
        masks = mask_polygons(s, req.camera_id)
    out = v.settings.home / "playback" / f"request-{req.id}-{_masks_tag(masks)}.mp4"
    if not out.exists():  # a changed mask set gives another file: never an unmasked cached copy
        # outside a transaction: fetching other nodes' segments and FFmpeg take seconds
        clips.make_clip(local_copies(v, segs), req.start, req.end, out, masks=masks)
    if audit:
        with v.db.session() as s:
            record(s, p.name, "video.view", f"camera:{req.camera_id}", region=_region(s, req.camera_id),
                   request=req.id, start=req.start.isoformat(), end=req.end.isoformat(), segments=len(segs),
                   reason=req.reason)
    return out


def export(v: Vigil, p: Principal, request_id: int) -> Export:
    """Export the range as MP4 with a signed SHA-256 manifest; masks are blacked out."""
    req = _authorise(v, p, request_id, RetrievalKind.EXPORT)
    now = utcnow()
    out_dir = v.settings.exports_dir / f"request-{req.id}-{now.strftime('%Y%m%dT%H%M%S')}"
    with v.db.session() as s:
        segs = segments_for(s, req.camera_id, req.start, req.end)
        masks = mask_polygons(s, req.camera_id)
    name = f"{req.camera_id}_{req.start.strftime('%Y%m%dT%H%M%SZ')}.mp4"
    try:  # outside a transaction: fetching other nodes' segments and FFmpeg take seconds
        clip = clips.make_clip(local_copies(v, segs), req.start, req.end, out_dir / name, masks=masks)
    except Exception:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    with v.db.session() as s:
        body = {
            "instance": str(v.settings.home.name), "request": req.id, "camera": req.camera_id,
            "start": req.start.isoformat(), "end": req.end.isoformat(), "reason": req.reason,
            "requester": req.requester, "approver": req.approver, "exported_by": p.name,
            "exported_at": now.isoformat(), "privacy_masks_applied": len(masks),
            "files": [{"name": clip.name, "bytes": clip.stat().st_size, "sha256": manifest.sha256_file(clip)}],
            "sources": [{"name": Path(g.path).name, "start": g.start.isoformat(), "end": g.end.isoformat(),
                         "bytes": g.bytes} for g in segs],
        }
        sig = manifest.sign_manifest(manifest.load_or_create_signing_key(v.settings.home), body, out_dir)
        exp = Export(request_id=req.id, path=str(out_dir), manifest=body, signature=sig, masked=bool(masks),
                     created_by=p.name)
        s.add(exp)
        s.flush()
        record(s, p.name, "video.export", f"camera:{req.camera_id}", region=_region(s, req.camera_id),
               request=req.id, export=exp.id,
               files=body["files"], masked=bool(masks), reason=req.reason)
    return exp


def export_file(v: Vigil, p: Principal, export_id: int, name: str) -> Path:
    """A file of an export (clip, manifest or signature), for its requester or an approver in scope."""
    with v.db.session() as s:
        exp = s.get(Export, export_id)
        if exp is None:
            raise NotFoundError(f"export {export_id} not found")
        req = _request(s, p, exp.request_id, what=f"export {export_id}")
        if req.requester != p.name and not p.can("video.approve"):
            raise NotFoundError(f"export {export_id} not found")
        allowed = {f["name"] for f in exp.manifest.get("files", [])} | {manifest.MANIFEST, manifest.SIGNATURE}
        if name not in allowed:
            raise NotFoundError(f"{name} is not part of export {export_id}")
        record(s, p.name, "video.export.download", f"camera:{req.camera_id}", region=_region(s, req.camera_id),
               export=exp.id, file=name)
    return Path(exp.path) / name
