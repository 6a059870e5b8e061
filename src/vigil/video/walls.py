"""Video-wall layouts saved per user: 1, 4, 9 or 16 tiles, cameras in order, and an optional cycle.

A layout belongs to the user who saved it; nobody else reads or changes it. Every camera named when saving
must lie in the caller's scope (else 404, as for any other object). A layout read back after the user's
regions shrank shows an empty tile where a camera is no longer visible. Saving is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import check_permission, get_in_scope, region_visible
from vigil.access.users import Principal
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import Camera, utcnow
from vigil.video.models import WallLayout

__all__ = ["SIZES", "WallIn", "WallView", "delete_wall", "list_walls", "save_wall"]

SIZES = (1, 4, 9, 16)
MAX_CAMERAS = 256  # a cycled group: up to 16 pages of 16


class WallIn(BaseModel):
    """A layout to save: the grid size, the cameras in tile order (null: an empty tile), the cycle period."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="the layout's name, unique per user")
    size: int = Field(description="tiles: 1, 4, 9 or 16")
    cameras: list[str | None] = Field(default_factory=list, max_length=MAX_CAMERAS,
                                      description="camera ids in tile order; more than `size` are cycled")
    cycle_s: int = Field(0, ge=0, le=3600, description="seconds per page when cycling (0: no cycle)")


@dataclass(frozen=True, slots=True)
class WallView:
    """A saved layout as the caller may see it."""

    id: int
    name: str
    size: int
    cameras: list[str | None]
    cycle_s: int


def _check(body: WallIn) -> None:
    if body.size not in SIZES:
        raise InputError(f"a wall has 1, 4, 9 or 16 tiles, not {body.size}")
    if 0 < body.cycle_s < 5:
        raise InputError("a wall cycles every 5 s at the quickest (or 0: no cycle)")


def _view(session: Session, p: Principal, row: WallLayout) -> WallView:
    ids = [c for c in row.cameras if c]
    regions = dict(session.execute(select(Camera.id, Camera.region_code).where(Camera.id.in_(ids))).tuples().all()) \
        if ids else {}
    shown = [c if c and c in regions and region_visible(p.scope, regions[c]) else None for c in row.cameras]
    return WallView(id=row.id, name=row.name, size=row.size, cameras=shown, cycle_s=row.cycle_s)


def list_walls(session: Session, p: Principal) -> list[WallView]:
    """The caller's layouts by name."""
    check_permission(p, "video.live")
    rows = session.scalars(select(WallLayout).where(WallLayout.user_id == p.user_id).order_by(WallLayout.name))
    return [_view(session, p, r) for r in rows]


def save_wall(session: Session, p: Principal, body: WallIn) -> WallView:
    """Create or replace the caller's layout named ``body.name``; audited."""
    check_permission(p, "video.live")
    _check(body)
    for cid in {c for c in body.cameras if c}:
        get_in_scope(session, Camera, cid, p.scope, what=f"camera {cid}")
    row = session.scalar(select(WallLayout).where(WallLayout.user_id == p.user_id, WallLayout.name == body.name))
    if row is None:
        row = WallLayout(user_id=p.user_id, name=body.name)
        session.add(row)
    row.size, row.cameras, row.cycle_s, row.updated_at = body.size, list(body.cameras), body.cycle_s, utcnow()
    session.flush()
    record(session, p.name, "video.wall.save", f"wall:{row.id}", name=body.name, size=body.size,
           cameras=len([c for c in body.cameras if c]), cycle_s=body.cycle_s)
    return _view(session, p, row)


def delete_wall(session: Session, p: Principal, wall_id: int) -> None:
    """Delete the caller's layout ``wall_id``; another user's layout is not found, as for any other; audited."""
    check_permission(p, "video.live")
    row = session.get(WallLayout, wall_id)
    if row is None or row.user_id != p.user_id:
        raise NotFoundError(f"wall layout {wall_id} not found")
    record(session, p.name, "video.wall.delete", f"wall:{row.id}", name=row.name)
    session.delete(row)
