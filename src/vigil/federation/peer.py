"""What the API's federation routes call: the peer handshake, the feed, the views of links and remote cameras.

The views go through the guard: a user sees only the links and remote cameras in scope.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access import audit
from vigil.access.guard import Scope, region_visible
from vigil.access.users import principal_for_token
from vigil.core.crypto import CredentialBox
from vigil.core.errors import AccessDenied, AuthError, InputError
from vigil.core.models import Camera, utcnow
from vigil.federation.apply import apply_batch
from vigil.federation.links import TOKEN_PREFIX, _check_url, link_for_token
from vigil.federation.models import ChangeKind, Direction, FedLink, FedRemote

__all__ = ["MAX_FEED_BYTES", "LinkPublic", "RemoteCameraPublic", "authenticate_link", "gunzip_capped", "list_links",
           "list_remote", "receive_feed"]

MAX_FEED_BYTES = 64 * 1024 * 1024  # a gzipped batch may expand to this much, never more


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """A gzip body, inflated to at most ``cap`` bytes (:class:`InputError` when larger or not gzip)."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, cap)
    except zlib.error:
        raise InputError("the feed batch is not valid gzip") from None
    if d.unconsumed_tail or not d.eof:
        raise InputError(f"the feed batch is incomplete or inflates past {cap} bytes")
    return out


class LinkPublic(BaseModel):
    """A link and its health (never its tokens)."""

    name: str
    direction: str
    region_code: str | None
    url: str
    rules: dict[str, Any]
    seq: int
    lag: int
    last_contact: datetime | None
    errors: int
    last_error: str
    cameras: int = 0  # remote cameras that came through this link (child links)
    age_s: float | None = None  # how old this instance's view of the link is (seconds since last contact)


class RemoteCameraPublic(BaseModel):
    """A camera that lives on an instance below this one, and how fresh this instance's view of it is."""

    id: str
    name: str
    region_code: str
    origin: str  # link names down to the owning instance ("town-a/village-3")
    link: str
    link_region: str | None = None  # the subtree the direct child publishes in
    last_contact: datetime | None = None  # the direct child's last publication
    age_s: float | None = None


def authenticate_link(session: Session, token: str, direction: Direction) -> FedLink:
    """The link presenting ``token``: :class:`AuthError` for none, :class:`AccessDenied` for a user's token."""
    if not token:
        raise AuthError("a link token is required")
    if not token.startswith(TOKEN_PREFIX):
        try:
            principal_for_token(session, token)
        except AuthError:
            raise AuthError("unknown link token") from None
        raise AccessDenied("this route is for linked Vigil instances, not for users")
    return link_for_token(session, token, direction)


def receive_feed(session: Session, box: CredentialBox, link: FedLink, body: Any, *, request_id: str
                 ) -> dict[str, Any]:
    """Apply one publication from ``link``'s child; the answer names the sequence to resume after."""
    if not isinstance(body, dict) or not isinstance(body.get("entries", []), list):
        raise InputError("a feed batch is an object with after, last and entries")
    if isinstance(hello := body.get("hello"), dict):
        url, token = str(hello.get("url") or ""), str(hello.get("token") or "")
        if url:
            link.url = _check_url(url)
        if token.startswith(TOKEN_PREFIX):
            link.peer_token_enc = box.seal(token)
        audit.record(session, f"link:{link.name}", "federation.hello", link.url, region=link.region_code,
                     request_id=request_id)
    res = apply_batch(session, link, body)
    if res.refused:
        audit.record(session, f"link:{link.name}", "federation.refused", f"link:{link.name}",
                     region=link.region_code, request_id=request_id, refused=res.refused[:5])
    return {"seq": res.seq, "applied": res.applied, "upserts": res.upserts, "deletes": res.deletes,
            "events": res.events, "refused": res.refused}


def list_links(session: Session, scope: Scope) -> list[LinkPublic]:
    """Links in ``scope``: child links whose subtree is visible; the parent link only for the whole instance."""
    counts = dict(session.execute(select(FedRemote.link_id, func.count()).where(FedRemote.kind == ChangeKind.CAMERA)
                                  .group_by(FedRemote.link_id)).all())
    now = utcnow()
    out = []
    for link in session.scalars(select(FedLink).order_by(FedLink.id)):
        visible = region_visible(scope, link.region_code) if link.direction == Direction.CHILD else scope.all_regions
        if visible:
            pub = LinkPublic.model_validate(link, from_attributes=True)
            pub.cameras = counts.get(link.id, 0)
            pub.age_s = round((now - link.last_contact).total_seconds(), 1) if link.last_contact else None
            out.append(pub)
    return out


def list_remote(session: Session, scope: Scope, *, limit: int = 1000, ids: Sequence[str] = (),
                region: str | None = None) -> list[RemoteCameraPublic]:
    """Remote cameras in ``scope`` (only those of ``ids``, or of ``region``'s subtree, when given), with their origin."""
    if region:
        scope = scope.narrowed(region)
    q = (select(Camera.id, Camera.name, Camera.region_code, FedRemote.origin, FedLink.name, FedLink.region_code,
                FedLink.last_contact)
         .join(FedRemote, (FedRemote.kind == ChangeKind.CAMERA) & (FedRemote.local_key == Camera.id))
         .join(FedLink, FedLink.id == FedRemote.link_id)
         .where(scope.clause(Camera.region_code)).order_by(Camera.id).limit(max(1, min(limit, 10_000))))
    if ids:
        q = q.where(Camera.id.in_(list(ids)[:1000]))
    now = utcnow()
    return [RemoteCameraPublic(id=i, name=n, region_code=r, origin=o, link=ln, link_region=lr, last_contact=lc,
                               age_s=round((now - lc).total_seconds(), 1) if lc else None)
            for i, n, r, o, ln, lr, lc in session.execute(q)]

