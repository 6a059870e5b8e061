"""Video: live HLS, recordings, retrieval requests and approvals, playback and exports.

Every route needs a token; cameras outside the caller's scope answer 404.
"""

from __future__ import annotations

import atexit
import threading
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.audit import record
from vigil.access.users import Principal
from vigil.api.contract import media
from vigil.api.deps import CurrentPrincipal, SessionDep, VigilDep, accepts_query_token, require
from vigil.api.problems import problem
from vigil.api.public.video import (
    ExportPublic,
    MasksPublic,
    RecordingsPublic,
    RetrievalListPublic,
    RetrievalRequestPublic,
)
from vigil.core.context import Vigil
from vigil.core.errors import NotReadyError
from vigil.core.models import utcnow
from vigil.video import masks as mask_svc
from vigil.video import retrieval
from vigil.video.live import LiveManager, LiveStarting
from vigil.video.models import Export, RetrievalRequest
from vigil.video.recorder import camera_url

router = APIRouter()
LivePrincipal = Annotated[Principal, Depends(require("video.live"))]
RetrievePrincipal = Annotated[Principal, Depends(require("video.retrieve"))]
_HLS = "application/vnd.apple.mpegurl"


class RetrievalIn(BaseModel):
    """A retrieval request."""

    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(min_length=1, max_length=20)
    start: datetime
    end: datetime
    kind: str = Field("view", pattern="^(view|export)$")
    reason: str = Field(min_length=1, max_length=2000)


class DecisionIn(BaseModel):
    """An approval or denial."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=2000)


class MaskIn(BaseModel):
    """One privacy mask polygon in normalised 0..1 picture coordinates."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=100)
    polygon: list[list[float]]
    enabled: bool = True


_LIVE_LOCK = threading.Lock()


def _live(request: Request) -> LiveManager:
    """The app's live manager, made on first use; its folder lies under the instance's ``run/``."""
    with _LIVE_LOCK:
        mgr = getattr(request.app.state, "video_live", None)
        if mgr is None:
            v: Vigil = request.app.state.vigil
            mgr = request.app.state.video_live = LiveManager(run_dir=v.settings.home / "run")
            atexit.register(mgr.close)  # a bare create_app() has no lifespan: stop at exit at least
    return mgr


def close_live(app: FastAPI) -> None:
    """Stop every live packager of ``app`` and remove its folder (the server's shutdown calls this)."""
    mgr = getattr(app.state, "video_live", None)
    if mgr is not None:
        mgr.close()


def request_json(r: RetrievalRequest) -> dict[str, Any]:
    """Public shape of a retrieval request."""
    return {"id": r.id, "camera_id": r.camera_id, "requester": r.requester, "start": r.start, "end": r.end,
            "kind": r.kind, "reason": r.reason, "needs_approval": r.needs_approval, "state": r.state,
            "approver": r.approver, "decided_at": r.decided_at, "note": r.decision_note,
            "created_at": r.created_at}


def export_json(e: Export) -> dict[str, Any]:
    """Public shape of an export."""
    return {"id": e.id, "request_id": e.request_id, "masked": e.masked, "manifest": e.manifest,
            "signature": e.signature, "created_by": e.created_by, "created_at": e.created_at}


@router.get("/live/{camera_id}/index.m3u8", response_class=Response,
            responses=media(_HLS, description="the live HLS playlist"))
@accepts_query_token
def live_playlist(camera_id: str, request: Request, p: LivePrincipal, v: VigilDep) -> Response:
    """The camera's live HLS playlist (starts the packager on demand; audited once per viewing).

    A 503 says which: ``live_state`` "starting" (no segment yet, retry after a second) or "no_video" (the
    camera's stream could not be opened).
    """
    with v.db.session() as s:
        cam = mask_svc.camera_in_scope(s, p, camera_id)
        url = camera_url(v, cam)
        masks = mask_svc.mask_polygons(s, cam.id)
        mgr = _live(request)
        if mgr.due_for_audit(p.name, cam.id):
            record(s, p.name, "video.live", f"camera:{cam.id}", region=cam.region_code)
    try:
        index = mgr.playlist(cam.id, url, masks)
    except LiveStarting as e:
        return problem(503, "not-ready", "Not ready", str(e), request.url.path, headers={"Retry-After": "1"},
                       live_state="starting")
    except NotReadyError as e:
        return problem(503, "not-ready", "Not ready", str(e), request.url.path, live_state="no_video")
    return Response(index.read_bytes(), media_type=_HLS, headers={"Cache-Control": "no-store"})


@router.get("/live/{camera_id}/{segment}", response_class=FileResponse,
            responses=media("video/mp2t", description="an MPEG-TS segment"))
@accepts_query_token
def live_segment(camera_id: str, segment: str, request: Request, p: LivePrincipal, session: SessionDep) -> Response:
    """A segment of the camera's live HLS stream."""
    mask_svc.camera_in_scope(session, p, camera_id)
    return FileResponse(_live(request).segment(camera_id, segment), media_type="video/mp2t")


@router.get("/cameras/{camera_id}/recordings", response_model=RecordingsPublic)
def recordings(camera_id: str, p: RetrievePrincipal, session: SessionDep, start: datetime | None = None,
               end: datetime | None = None) -> dict:
    """The recorded spans of a camera between ``start`` and ``end`` (default: the last 24 h), times only."""
    mask_svc.camera_in_scope(session, p, camera_id)
    end = end or utcnow()
    start = start or end - timedelta(hours=24)
    segs = retrieval.segments_for(session, camera_id, start, end)
    return {"camera_id": camera_id, "segments": [{"start": g.start, "end": g.end, "bytes": g.bytes,
                                                  "complete": g.complete} for g in segs]}


@router.get("/cameras/{camera_id}/masks", response_model=MasksPublic)
def get_masks(camera_id: str, p: CurrentPrincipal, session: SessionDep) -> dict:
    """The camera's privacy masks (the console draws them over live video)."""
    rows = mask_svc.list_masks(session, p, camera_id)
    return {"camera_id": camera_id, "masks": [{"id": m.id, "name": m.name, "polygon": m.polygon,
                                               "enabled": m.enabled} for m in rows]}


@router.put("/cameras/{camera_id}/masks", response_model=MasksPublic)
def put_masks(camera_id: str, body: list[MaskIn], p: CurrentPrincipal, session: SessionDep) -> dict:
    """Replace the camera's privacy masks (admins)."""
    mask_svc.set_masks(session, p, camera_id, [m.model_dump() for m in body])
    return get_masks(camera_id, p, session)


@router.get("/retrievals", response_model=RetrievalListPublic)
def list_retrievals(p: RetrievePrincipal, session: SessionDep,
                    state: Annotated[str | None, Query(pattern="^(pending|approved|denied)$")] = None) -> dict:
    """The caller's requests; approvers also see every request in their scope."""
    return {"items": [request_json(r) for r in retrieval.list_requests(session, p, state=state)]}


@router.post("/retrievals", status_code=201, response_model=RetrievalRequestPublic)
def create_retrieval(body: RetrievalIn, p: RetrievePrincipal, session: SessionDep) -> dict:
    """File a retrieval request with its reason."""
    req = retrieval.request_retrieval(session, p, body.camera_id, body.start, body.end, kind=body.kind,
                                      reason=body.reason)
    return request_json(req)


@router.get("/retrievals/{request_id}", response_model=RetrievalRequestPublic)
def get_retrieval(request_id: int, p: RetrievePrincipal, session: SessionDep) -> dict:
    """One request (its requester, or an approver in scope)."""
    req = retrieval.get_request(session, p, request_id)
    return request_json(req)


@router.post("/retrievals/{request_id}/approve", response_model=RetrievalRequestPublic)
def approve(request_id: int, p: CurrentPrincipal, session: SessionDep, body: DecisionIn | None = None) -> dict:
    """Approve a pending request (a second person with ``video.approve``)."""
    req = retrieval.decide(session, p, request_id, approve=True, note=body.note if body else "")
    return request_json(req)


@router.post("/retrievals/{request_id}/deny", response_model=RetrievalRequestPublic)
def deny(request_id: int, p: CurrentPrincipal, session: SessionDep, body: DecisionIn | None = None) -> dict:
    """Deny a pending request."""
    req = retrieval.decide(session, p, request_id, approve=False, note=body.note if body else "")
    return request_json(req)


@router.get("/retrievals/{request_id}/playback.mp4", response_class=FileResponse,
            responses=media("video/mp4", description="the recorded range"))
@accepts_query_token
def playback(request_id: int, request: Request, p: RetrievePrincipal, v: VigilDep) -> FileResponse:
    """The recorded range as MP4 for the browser; the first request of a playback is audited."""
    rng = request.headers.get("range", "")
    first = not rng or rng.replace(" ", "").startswith("bytes=0-")
    return FileResponse(retrieval.view(v, p, request_id, audit=first), media_type="video/mp4")


@router.post("/retrievals/{request_id}/export", status_code=201, response_model=ExportPublic)
def create_export(request_id: int, p: RetrievePrincipal, v: VigilDep) -> dict:
    """Export the range as MP4 with a signed SHA-256 manifest (privacy masks blacked out)."""
    return export_json(retrieval.export(v, p, request_id))


@router.get("/exports/{export_id}", response_class=FileResponse,
            responses=media("video/mp4", "application/octet-stream", description="a file of the export"))
@accepts_query_token
def get_export(export_id: int, p: RetrievePrincipal, v: VigilDep,
               file: Annotated[str, Query(max_length=200)] = "manifest.json") -> FileResponse:
    """A file of an export: the clip, ``manifest.json`` or ``manifest.sig``."""
    path = retrieval.export_file(v, p, export_id, file)
    media = "video/mp4" if path.suffix == ".mp4" else "application/octet-stream"
    return FileResponse(path, media_type=media, filename=path.name)
