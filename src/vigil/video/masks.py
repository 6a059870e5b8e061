"""Privacy masks of a camera: read and replace them (scope-checked and audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import check_permission, get_in_scope
from vigil.access.users import Principal
from vigil.core.models import Camera
from vigil.video.models import PrivacyMask, validate_polygon

__all__ = ["camera_in_scope", "list_masks", "mask_polygons", "set_masks"]


def camera_in_scope(session: Session, p: Principal, camera_id: str) -> Camera:
    """The camera, or NotFoundError if it does not exist or lies outside the caller's scope."""
    return get_in_scope(session, Camera, camera_id, p, what=f"camera {camera_id}")


def mask_polygons(session: Session, camera_id: str) -> list[list[list[float]]]:
    """The enabled mask polygons of a camera (normalised 0..1 coordinates)."""
    q = select(PrivacyMask.polygon).where(PrivacyMask.camera_id == camera_id, PrivacyMask.enabled.is_(True))
    return [list(p) for p in session.scalars(q)]


def list_masks(session: Session, p: Principal, camera_id: str) -> list[PrivacyMask]:
    """Every mask of a camera in scope."""
    camera_in_scope(session, p, camera_id)
    return list(session.scalars(select(PrivacyMask).where(PrivacyMask.camera_id == camera_id)
                                .order_by(PrivacyMask.id)))


def set_masks(session: Session, p: Principal, camera_id: str, masks: list[dict[str, Any]]) -> list[PrivacyMask]:
    """Replace a camera's masks with ``[{"name": ..., "polygon": [[x, y], ...]}, ...]`` (admins)."""
    check_permission(p, "registry.write")
    cam = camera_in_scope(session, p, camera_id)
    rows = [PrivacyMask(camera_id=cam.id, name=str(m.get("name", ""))[:100], polygon=validate_polygon(m.get("polygon")),
                        enabled=bool(m.get("enabled", True))) for m in masks]
    session.execute(delete(PrivacyMask).where(PrivacyMask.camera_id == cam.id))
    session.add_all(rows)
    session.flush()
    record(session, p.name, "video.masks.set", f"camera:{cam.id}", region=cam.region_code, masks=len(rows))
    return rows
