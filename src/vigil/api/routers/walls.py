"""Video-wall layouts: each user's own, saved on the server (``/api/v1/video/walls``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from vigil.access.users import Principal
from vigil.api.deps import SessionDep, require
from vigil.video.walls import WallIn, WallView, delete_wall, list_walls, save_wall

router = APIRouter()
LivePrincipal = Annotated[Principal, Depends(require("video.live"))]


class WallPublic(BaseModel):
    """A saved layout; a camera the caller can no longer see is an empty tile (null)."""

    id: int
    name: str
    size: int
    cameras: list[str | None]
    cycle_s: int


class WallListPublic(BaseModel):
    """The caller's layouts by name."""

    items: list[WallPublic]


def _public(w: WallView) -> WallPublic:
    return WallPublic(**asdict(w))


@router.get("", response_model=WallListPublic)
def walls(p: LivePrincipal, session: SessionDep) -> WallListPublic:
    """The caller's saved wall layouts."""
    return WallListPublic(items=[_public(w) for w in list_walls(session, p)])


@router.put("", response_model=WallPublic)
def put_wall(body: WallIn, p: LivePrincipal, session: SessionDep) -> WallPublic:
    """Save (create or replace) the caller's layout of that name; every camera must be in scope (else 404)."""
    return _public(save_wall(session, p, body))


@router.delete("/{wall_id}", status_code=204)
def remove_wall(wall_id: int, p: LivePrincipal, session: SessionDep) -> None:
    """Delete one of the caller's saved layouts (another user's is 404)."""
    delete_wall(session, p, wall_id)
