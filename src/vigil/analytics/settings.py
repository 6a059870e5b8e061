"""Per-camera switch of continuous analytics (``vigil serve``): enable with zones, disable, list.

Changes are audited. Zones documents are validated with :func:`vigil.analytics.zones.parse_zones`
before they are stored, so the worker never meets a bad one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import audit
from vigil.access.guard import Scope, get_in_scope
from vigil.analytics.models import AnalyticsSetting
from vigil.analytics.zones import parse_zones
from vigil.core.models import Camera
from vigil.registry.streams import in_service_population, stream_url_with_credentials

__all__ = ["CameraAnalytics", "enabled_cameras", "get_setting", "list_settings", "set_analytics", "setting_json"]

_KEEP: Any = object()  # sentinel: leave the stored zones as they are


def _camera(session: Session, camera_id: str, scope: Scope) -> Camera:
    return get_in_scope(session, Camera, camera_id, scope, what=f"camera {camera_id}")


def set_analytics(session: Session, camera_id: str, *, enabled: bool, zones: dict[str, Any] | None = _KEEP,
                  actor: str = "cli", scope: Scope) -> AnalyticsSetting:
    """Switch continuous analytics of a camera on or off; ``zones`` replaces the stored zones if given.

    Cameras outside ``scope`` (the caller's; ``Scope.everything()`` for the CLI) are not found.
    """
    cam = _camera(session, camera_id, scope)
    if zones is not _KEEP and zones is not None:
        parse_zones(zones)  # raises InputError on a bad document
    row = session.get(AnalyticsSetting, camera_id)
    if row is None:
        row = AnalyticsSetting(camera_id=camera_id, enabled=enabled, zones=None if zones is _KEEP else zones,
                               updated_by=actor)
        session.add(row)
    else:
        row.enabled, row.updated_by = enabled, actor
        if zones is not _KEEP:
            row.zones = zones
    session.flush()
    detail: dict[str, Any] = {"enabled": enabled}
    if zones is not _KEEP:
        detail["zones"] = _summary(zones)
    audit.record(session, actor, "analytics.enable" if enabled else "analytics.disable", f"camera:{camera_id}",
                 region=cam.region_code, **detail)
    return row


def _summary(zones: dict[str, Any] | None) -> str:
    if not zones:
        return "none"
    return ", ".join(f"{len(zones.get(k) or [])} {k}" for k in ("zones", "lines", "masks"))


def get_setting(session: Session, camera_id: str, scope: Scope) -> AnalyticsSetting:
    """The stored setting of a camera in ``scope`` (disabled, no zones, if never set)."""
    _camera(session, camera_id, scope)
    row = session.get(AnalyticsSetting, camera_id)
    return row or AnalyticsSetting(camera_id=camera_id, enabled=False, zones=None, updated_by="")


def list_settings(session: Session, scope: Scope, *, region: str | None = None,
                  enabled: bool | None = None) -> list[AnalyticsSetting]:
    """Every camera with a stored setting inside ``scope``, optionally one region subtree."""
    q = select(AnalyticsSetting).join(Camera, Camera.id == AnalyticsSetting.camera_id)
    q = q.where(scope.clause(Camera.region_code))
    if region:
        q = q.where(Camera.region_code.like(f"{region}%"))
    if enabled is not None:
        q = q.where(AnalyticsSetting.enabled.is_(enabled))
    return list(session.scalars(q.order_by(AnalyticsSetting.camera_id)))


def setting_json(row: AnalyticsSetting) -> dict[str, Any]:
    """Public shape of a setting."""
    return {"camera_id": row.camera_id, "enabled": bool(row.enabled), "zones": row.zones,
            "updated_by": row.updated_by, "updated_at": row.updated_at}


@dataclass(frozen=True)
class CameraAnalytics:
    """What the worker needs to analyse one camera: where, which zones and masks, which region."""

    camera_id: str
    region_code: str
    url: str = field(repr=False)  # holds the credentials: never in a repr or a log
    zones: dict[str, Any] | None
    masks: tuple[tuple[tuple[float, float], ...], ...]


def enabled_cameras(v: Any, camera_ids: Sequence[str] | None = None) -> tuple[list[CameraAnalytics], list[str]]:
    """The in-service cameras with analytics enabled, and warnings for those that cannot run.

    ``v`` is the :class:`vigil.core.context.Vigil` (its credential box fills in the substream URL,
    which the registry validates first: a camera with a refused URL is reported, never opened).
    """
    from vigil.analytics.service import camera_masks

    out, problems = [], []
    with v.db.session() as s:
        q = select(AnalyticsSetting, Camera).join(Camera, Camera.id == AnalyticsSetting.camera_id).where(
            AnalyticsSetting.enabled.is_(True), in_service_population())
        if camera_ids is not None:
            q = q.where(AnalyticsSetting.camera_id.in_(list(camera_ids)))
        for row, cam in s.execute(q.order_by(AnalyticsSetting.camera_id)).tuples():
            try:
                url = stream_url_with_credentials(cam, v.box, sub=True)
            except Exception as exc:  # no URL, or a credential that cannot be opened: skip this camera only
                problems.append(f"camera {cam.id}: {exc}")
                continue
            masks = tuple(tuple((x, y) for x, y in poly) for poly in camera_masks(s, cam.id))
            out.append(CameraAnalytics(cam.id, cam.region_code, url, row.zones, masks))
    return out, problems
