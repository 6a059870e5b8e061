"""Federation: links and remote cameras for users; the feed for linked Vigil instances (link tokens)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vigil.access.audit import record
from vigil.access.users import Principal
from vigil.api.contract import media
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.inputs import nul_location
from vigil.api.public.misc import FeedPublic, PeerRetrievalPublic, RemoteRetrievalPublic
from vigil.api.routers.video import _live  # the app's one live manager (its packagers and folder)
from vigil.api.security import request_token
from vigil.core.errors import InputError
from vigil.federation.models import Direction
from vigil.federation.peer import (
    MAX_FEED_BYTES,
    LinkPublic,
    RemoteCameraPublic,
    authenticate_link,
    gunzip_capped,
    list_links,
    list_remote,
    receive_feed,
)
from vigil.federation.sources import SourcesPublic, region_sources
from vigil.federation.video import (
    PEER_PLAYBACK,
    PEER_VIDEO,
    RemoteRequestIn,
    audit_child_view,
    check_file,
    child_camera,
    child_retrieval,
    link_principal,
    parent_fetch,
    parent_playback,
    parent_retrieval,
    relay,
)
from vigil.video import retrieval
from vigil.video.masks import mask_polygons
from vigil.video.recorder import camera_url

router = APIRouter()
Reader = Annotated[Principal, Depends(require("registry.read"))]
LiveViewer = Annotated[Principal, Depends(require("video.live"))]
Retriever = Annotated[Principal, Depends(require("video.retrieve"))]


@router.get("/api/v1/federation/links")
def links(p: Reader, session: SessionDep) -> list[LinkPublic]:
    """The links of this instance in your scope, with their sharing rules and health (last contact, lag, errors)."""
    return list_links(session, p.scope)


@router.get("/api/v1/federation/remote")
def remote(p: Reader, session: SessionDep, limit: int = 1000, ids: str = "", region: str | None = None
           ) -> list[RemoteCameraPublic]:
    """Cameras in your scope that live on an instance below, marked with the instance they come from.

    ``ids``: only these cameras (comma-separated), e.g. the rows of one page of the camera table;
    ``region``: only that region's subtree (the map).
    """
    return list_remote(session, p.scope, limit=limit, ids=[i for i in ids.split(",") if i][:1000], region=region)


@router.get("/api/v1/federation/sources")
def sources(p: Reader, session: SessionDep, region: str | None = None) -> SourcesPublic:
    """Per region (``region`` and its children): this instance's cameras and each child instance's, with their age."""
    return region_sources(session, p, region)


@router.post("/federation/v1/feed", tags=["federation peers"], response_model=FeedPublic)
async def feed(request: Request, session: SessionDep, v: VigilDep) -> dict[str, Any]:
    """A child's publication (link token). Authenticated before its body is read."""
    link = await run_in_threadpool(authenticate_link, session, request_token(request)[0], Direction.CHILD)
    raw = await request.body()
    if request.headers.get("content-type", "").lower().startswith("application/gzip"):
        raw = await run_in_threadpool(gunzip_capped, raw, MAX_FEED_BYTES)
        if nul_location(raw, b"application/json") is not None:  # RefuseNul saw only the gzip bytes
            raise InputError("the feed batch holds NUL characters")
    try:
        body = json.loads(raw)
    except ValueError:
        raise InputError("the feed batch is not JSON") from None
    rid = request.headers.get("x-request-id", "")[:64]
    return await run_in_threadpool(receive_feed, session, v.box, link, body, request_id=rid)


# ----------------------------------------------------------------------------- remote video (parent side)
class RemoteRetrievalIn(BaseModel):
    """A retrieval request for a remote camera, decided by the instance that owns it."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str
    start: datetime
    end: datetime
    reason: str = Field(description="why the recording is needed (the owning instance requires one)")


@router.get("/api/v1/federation/live/{camera_id}/{segment}", response_class=Response,
            responses=media("application/vnd.apple.mpegurl", "video/mp2t", description="the playlist or a segment"))
def remote_live(camera_id: str, segment: str, p: LiveViewer, v: VigilDep) -> Response:
    """Live HLS of a remote camera (``index.m3u8``, then its segments), proxied through its own instance."""
    got = parent_fetch(v, p, camera_id, segment)
    return Response(got.content, media_type=got.media_type, headers={"Cache-Control": "no-store"})


@router.post("/api/v1/federation/retrievals", status_code=201, response_model=RemoteRetrievalPublic)
def remote_retrieval(body: RemoteRetrievalIn, p: Retriever, v: VigilDep) -> dict[str, Any]:
    """Ask a remote camera's instance for its recording; class-1 sites wait for that instance's approval."""
    return parent_retrieval(v, p, body.camera_id, body.start, body.end, body.reason)


@router.get("/api/v1/federation/cameras/{camera_id}/playback.mp4", response_class=Response,
            responses=media("video/mp4", description="the recorded range"))
def remote_playback(camera_id: str, p: Retriever, v: VigilDep, req: int = 0) -> Response:
    """Play back an approved remote retrieval request (``req``: the id the owning instance gave it)."""
    got = parent_playback(v, p, camera_id, req)
    return Response(got.content, media_type=got.media_type)


# ----------------------------------------------------------------------------- remote video (child side)
def _peer(session, request: Request):  # type: ignore[no-untyped-def]
    return authenticate_link(session, request_token(request)[0], Direction.PARENT)


@router.get("/federation/v1/video", tags=["federation peers"], response_class=Response,
            responses=media("application/vnd.apple.mpegurl", "video/mp2t", description="the playlist or a segment"))
def peer_video(request: Request, session: SessionDep, v: VigilDep, cam: str = "", file: str = "",
               user: str = "") -> Response:
    """Live HLS for the parent (its token): only cameras shared with it; audited here with its request id."""
    link = _peer(session, request)
    name, rid = check_file(file), request.headers.get("x-request-id", "")[:64]
    camera = child_camera(session, link, cam)
    who = link_principal(session, link, user).name
    mgr = _live(request)
    if name.endswith(".m3u8") and mgr.due_for_audit(who, camera.id):
        record(session, who, "video.live", f"camera:{camera.id}", region=camera.region_code, request_id=rid)
    if (down := relay(v, session, camera.id, "GET", PEER_VIDEO, params={"cam": cam, "file": name, "user": user},
                      rid=rid)) is not None:
        return Response(down.content, media_type=down.headers.get("content-type", "video/mp2t"))
    if name.endswith(".m3u8"):
        index = mgr.playlist(camera.id, camera_url(v, camera), mask_polygons(session, camera.id))
        return Response(index.read_bytes(), media_type="application/vnd.apple.mpegurl")
    return FileResponse(mgr.segment(camera.id, name), media_type="video/mp2t")


@router.post("/federation/v1/retrievals", tags=["federation peers"], status_code=201,
             response_model=PeerRetrievalPublic)
async def peer_retrieval(request: Request, session: SessionDep, v: VigilDep) -> dict[str, Any]:
    """A retrieval request from the parent: the sharing rules, a reason, and this instance's approval rules."""
    link = await run_in_threadpool(_peer, session, request)
    try:
        body = RemoteRequestIn.model_validate_json(await request.body())
    except ValueError:
        raise InputError("a retrieval request needs cam, start, end, reason and user") from None
    rid = request.headers.get("x-request-id", "")[:64]
    return await run_in_threadpool(child_retrieval, v, session, link, body, rid)


@router.get("/federation/v1/playback", tags=["federation peers"], response_class=Response,
            responses=media("video/mp4", description="the recorded range"))
def peer_playback(request: Request, session: SessionDep, v: VigilDep, cam: str = "", req: int = 0,
                  user: str = "") -> Response:
    """The MP4 of an approved request the parent filed (refused while it awaits this instance's approval)."""
    link = _peer(session, request)
    camera = child_camera(session, link, cam, recordings=True)
    who = link_principal(session, link, user)
    rid = request.headers.get("x-request-id", "")[:64]
    if (down := relay(v, session, camera.id, "GET", PEER_PLAYBACK, params={"cam": cam, "req": str(req),
                                                                          "user": user}, rid=rid)) is not None:
        return Response(down.content, media_type="video/mp4")
    audit_child_view(session, who, camera, req, rid)
    session.commit()
    return FileResponse(retrieval.view(v, who, req), media_type="video/mp4")
