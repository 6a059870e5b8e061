"""Video of remote cameras, proxied through the child that owns it.

* The parent checks its own user (permission and scope, through the guard), finds the child link of
  the camera, and asks the child with the token the child issued, one request id per call.
* The child checks that token, that the camera is shared under the link's rules (recordings only if
  the rules share them), applies its own retrieval rules (a reason always, its own approval for
  class-1 and sensitive sites), serves the video itself, and audits under ``link:<name>/<user>``.
* The parent never receives a stream URL or a credential: only HLS playlists, segments and MP4 bytes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import audit
from vigil.access.guard import check_permission, get_in_scope
from vigil.access.users import Principal
from vigil.core.context import Vigil
from vigil.core.errors import AccessDenied, ConflictError, InputError, NotFoundError, NotReadyError
from vigil.core.models import Camera, Region, Role
from vigil.federation.links import ShareRules, client_for, peer_token
from vigil.federation.models import ChangeKind, FedLink, FedRemote
from vigil.federation.publish import shared_ids
from vigil.registry.streams import redact_text
from vigil.video import retrieval

__all__ = ["PEER_PLAYBACK", "PEER_RETRIEVALS", "PEER_VIDEO", "Fetched", "RemoteRequestIn", "audit_child_view",
           "check_file",
           "child_camera", "child_retrieval", "link_principal", "parent_fetch", "relay", "remote_link", "parent_playback", "parent_retrieval"]

PEER_VIDEO, PEER_RETRIEVALS, PEER_PLAYBACK = "/federation/v1/video", "/federation/v1/retrievals", \
    "/federation/v1/playback"
_FILE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(m3u8|ts|m4s|mp4)$")
_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t", "m4s": "video/iso.segment",
          "mp4": "video/mp4"}


class RemoteRequestIn(BaseModel):
    """A retrieval request as the parent sends it to the child."""

    model_config = ConfigDict(extra="forbid")

    cam: str
    start: datetime
    end: datetime
    reason: str
    user: str = ""


@dataclass(frozen=True, slots=True)
class Fetched:
    """Bytes from the child and their media type."""

    content: bytes
    media_type: str


def check_file(name: str) -> str:
    """A playlist or segment name (no path, no query), or :class:`InputError`."""
    if not _FILE.match(name or ""):
        raise InputError("not a playlist or segment name")
    return name


def remote_link(session: Session, camera_id: str) -> FedLink | None:
    """The child link a camera came from (``None`` for a camera of this instance)."""
    row = session.scalar(select(FedRemote).where(FedRemote.kind == ChangeKind.CAMERA,
                                                 FedRemote.local_key == camera_id))
    return session.get(FedLink, row.link_id) if row else None


def relay(v: Vigil, session: Session, camera_id: str, method: str, path: str, *, params: dict[str, str],
          rid: str, json: Any = None) -> httpx.Response | None:
    """Pass a parent's video call down to the child that owns ``camera_id`` (``None``: the camera is ours)."""
    link = remote_link(session, camera_id)
    if link is None:
        return None
    session.expunge(link)
    session.commit()
    return _ask(v, link, method, path, params=params, rid=rid, json=json)


def _remote_link(session: Session, camera_id: str) -> FedLink:
    link = remote_link(session, camera_id)
    if link is None:
        raise NotFoundError(f"camera {camera_id} is not a remote camera")
    if not link.url or not link.peer_token_enc:
        raise NotReadyError(f"the instance of camera {camera_id} has not said where it can be reached yet")
    return link


def _ask(v: Vigil, link: FedLink, method: str, path: str, *, params: dict[str, str], rid: str,
         json: Any = None) -> httpx.Response:
    token = peer_token(link, v.box)
    try:
        with client_for(link, timeout=30.0) as c:
            r = c.request(method, path, params=params, json=json,
                          headers={"Authorization": f"Bearer {token}", "X-Request-Id": rid})
    except httpx.HTTPError as exc:
        raise NotReadyError(f"the camera's instance is unreachable: {redact_text(str(exc), (token,))}") from None
    if r.status_code in (200, 201):
        return r
    try:
        detail = str(r.json().get("detail", ""))[:300]
    except ValueError:
        detail = ""
    errs = {403: AccessDenied, 404: NotFoundError, 409: ConflictError, 400: InputError, 422: InputError}
    raise errs.get(r.status_code, NotReadyError)(f"the camera's instance refused: {detail or r.status_code}")


def parent_fetch(v: Vigil, p: Principal, camera_id: str, name: str) -> Fetched:
    """A live playlist or segment of a remote camera, for user ``p`` (audited here once per playlist)."""
    check_permission(p, "video.live")
    name = check_file(name)
    rid = uuid.uuid4().hex
    with v.db.session() as s:
        cam = get_in_scope(s, Camera, camera_id, p, what=f"camera {camera_id}")
        link = _remote_link(s, cam.id)
        s.expunge(link)
        if name.endswith(".m3u8"):
            audit.record(s, p.name, "video.live.remote", f"camera:{cam.id}", region=cam.region_code,
                         link=link.name, request_id=rid)
    r = _ask(v, link, "GET", PEER_VIDEO, params={"cam": cam.id, "file": name, "user": p.name}, rid=rid)
    return Fetched(r.content, _TYPES[name.rsplit(".", 1)[1]])


def parent_retrieval(v: Vigil, p: Principal, camera_id: str, start: datetime, end: datetime, reason: str
                     ) -> dict[str, Any]:
    """File a retrieval request for a remote camera with its child; the child decides and may need approval."""
    check_permission(p, "video.retrieve")
    if len((reason or "").strip()) < retrieval.MIN_REASON:
        raise InputError(f"a reason is required (at least {retrieval.MIN_REASON} characters)")
    rid = uuid.uuid4().hex
    with v.db.session() as s:
        cam = get_in_scope(s, Camera, camera_id, p, what=f"camera {camera_id}")
        link = _remote_link(s, cam.id)
        s.expunge(link)
        region = cam.region_code
    body = {"cam": camera_id, "start": start.isoformat(), "end": end.isoformat(), "reason": reason, "user": p.name}
    ans = _ask(v, link, "POST", PEER_RETRIEVALS, params={}, json=body, rid=rid).json()
    with v.db.session() as s:
        audit.record(s, p.name, "video.retrieve.remote", f"camera:{camera_id}", region=region, link=link.name,
                     request_id=rid, remote_request=ans.get("id"), state=ans.get("state"), reason=reason)
    return {"camera_id": camera_id, "remote_request": ans.get("id"), "state": ans.get("state"),
            "needs_approval": bool(ans.get("needs_approval")), "request_id": rid}


def link_principal(session: Session, link: FedLink, user: str) -> Principal:
    """The parent's user, as the child sees it: an investigator limited to the link's shared regions."""
    rules = ShareRules(**(link.rules or {}))
    roots = rules.regions or list(session.scalars(select(Region.code).where(Region.parent_code.is_(None))))
    name = f"link:{link.name}/{re.sub(r'[^A-Za-z0-9_.@-]', '_', user or '?')[:60]}"
    return Principal(user_id=0, name=name, role=Role.INVESTIGATOR, scopes=tuple(roots))


def child_camera(session: Session, link: FedLink, camera_id: str, *, recordings: bool = False) -> Camera:
    """A camera the parent of ``link`` may see video of, or :class:`NotFoundError` (not shared: not there)."""
    rules = ShareRules(**(link.rules or {}))
    cam = session.get(Camera, camera_id) if camera_id else None
    if cam is None or cam.id not in shared_ids(session, rules, [cam.id]):
        raise NotFoundError(f"camera {camera_id} not found")
    if recordings and not rules.recordings:
        raise AccessDenied("this link shares live view only, not recordings")
    return cam



def parent_playback(v: Vigil, p: Principal, camera_id: str, remote_request: int) -> Fetched:
    """The MP4 of a remote retrieval request, once the child has approved it (the child refuses otherwise)."""
    check_permission(p, "video.retrieve")
    rid = uuid.uuid4().hex
    with v.db.session() as s:
        cam = get_in_scope(s, Camera, camera_id, p, what=f"camera {camera_id}")
        link = _remote_link(s, cam.id)
        s.expunge(link)
        audit.record(s, p.name, "video.view.remote", f"camera:{cam.id}", region=cam.region_code, link=link.name,
                     request_id=rid, remote_request=remote_request)
        cam_id = cam.id
    r = _ask(v, link, "GET", PEER_PLAYBACK, params={"cam": cam_id, "req": str(remote_request), "user": p.name},
             rid=rid)
    return Fetched(r.content, "video/mp4")


def audit_child_view(session: Session, who: Principal, camera: Camera, remote_request: int, request_id: str) -> None:
    """The parent's playback call as this instance audits it, under the parent's request id (even if refused)."""
    audit.record(session, who.name, "federation.view", f"camera:{camera.id}", region=camera.region_code,
                 request_id=request_id, remote_request=remote_request)


def child_retrieval(v: Vigil, session: Session, link: FedLink, body: RemoteRequestIn, request_id: str
                    ) -> dict[str, Any]:
    """File the parent's request here, under this instance's rules (class-1 sites need approval here).

    A camera that is itself remote here is passed down: its own instance decides.
    """
    cam = child_camera(session, link, body.cam, recordings=True)
    who = link_principal(session, link, body.user)
    audit.record(session, who.name, "federation.retrieve", f"camera:{cam.id}", region=cam.region_code,
                 request_id=request_id)
    down = relay(v, session, cam.id, "POST", PEER_RETRIEVALS, params={}, rid=request_id,
                 json=body.model_dump(mode="json"))
    if down is not None:
        return dict(down.json())
    start, end, reason = body.start, body.end, body.reason
    req = retrieval.request_retrieval(session, who, cam.id, start, end, kind="view", reason=reason)
    return {"id": req.id, "state": req.state, "needs_approval": req.needs_approval}
