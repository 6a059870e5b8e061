"""Where a camera's media comes from, in one place: the live view, the recorder and federation call this.

* A camera with a stream URL: that RTSP URL, credentials filled in (:mod:`vigil.registry.streams`).
* A GB/T 28181 channel without one: the registrar's media hub (:mod:`vigil.gb28181.hub`), which
  INVITEs the device on the first reader and sends BYE after the last; FFmpeg demuxes its MPEG-PS
  and copies the video like any RTSP stream's.

Either way the result is a secret (credentials or the hub key) for FFmpeg's stdin, never its argv.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, object_session

from vigil.core.context import Vigil
from vigil.core.errors import NotFoundError, NotReadyError
from vigil.core.models import Camera
from vigil.gb28181.hub import hub_url
from vigil.gb28181.models import GbChannel
from vigil.registry.streams import stream_url_with_credentials

__all__ = ["camera_source", "has_media"]


def has_media() -> ColumnElement[bool]:
    """SQL condition for the cameras that have media: a stream URL, or a GB/T 28181 channel."""
    gb = select(GbChannel.camera_id).where(GbChannel.kind == "camera", GbChannel.camera_id.is_not(None))
    return or_(Camera.main_url != "", Camera.id.in_(gb))


def _is_gb_channel(session: Session, camera_id: str) -> bool:
    return session.scalar(select(GbChannel.channel_id).where(GbChannel.camera_id == camera_id,
                                                             GbChannel.kind == "camera").limit(1)) is not None


def camera_source(v: Vigil, cam: Camera, *, sub: bool = False) -> str:
    """The URL FFmpeg reads the camera's media from (a secret: never log, store or show it).

    Raises :class:`NotFoundError` for a camera with no media, :class:`NotReadyError` for a GB channel
    while no registrar runs for this instance.
    """
    if (cam.main_url or "").strip():
        return stream_url_with_credentials(cam, v.box, sub=sub)
    session = object_session(cam)
    if session is not None:
        gb = _is_gb_channel(session, cam.id)
    else:
        with v.db.session() as s:
            gb = _is_gb_channel(s, cam.id)
    if not gb:
        raise NotFoundError(f"camera {cam.id} has no stream URL")
    url = hub_url(v.settings.home / "run", cam.id)
    if url is None:
        raise NotReadyError(f"camera {cam.id} is a GB/T 28181 channel and no registrar runs "
                            "(start vigil serve --gb or vigil gb serve)")
    return url
