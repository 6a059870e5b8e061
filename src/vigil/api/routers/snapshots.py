"""A camera's picture now, as JPEG (``/api/v1/video/snapshots/{camera_id}``): masked unless asked otherwise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from vigil.access.users import Principal
from vigil.api.contract import media
from vigil.api.deps import VigilDep, accepts_query_token, require
from vigil.video.snapshots import snapshot

router = APIRouter()
LivePrincipal = Annotated[Principal, Depends(require("video.live"))]


@router.get("/{camera_id}", response_class=Response, responses=media("image/jpeg", description="one frame"))
@accepts_query_token
def camera_snapshot(camera_id: str, p: LivePrincipal, v: VigilDep, masked: bool = True) -> Response:
    """One frame of the camera now, privacy masks blacked out as in live view (``masked=false``: mask editors).

    503 when the camera gives no picture; audited.
    """
    jpeg = snapshot(v, p, camera_id, masked=masked)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
