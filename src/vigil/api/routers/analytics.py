"""Continuous analytics per camera: list the settings, switch a camera on or off, set its zones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.users import Principal
from vigil.analytics.settings import get_setting, list_settings, set_analytics, setting_json
from vigil.api.deps import ReadSessionDep, SessionDep, require
from vigil.api.public.video import AnalyticsListPublic, AnalyticsPublic

router = APIRouter()

Reader = Annotated[Principal, Depends(require("events.read"))]
Manager = Annotated[Principal, Depends(require("analytics.manage"))]


class AnalyticsIn(BaseModel):
    """A camera's analytics switch; ``zones`` (a zones document) replaces the stored one when present."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool
    zones: dict[str, Any] | None = Field(default=None, description="zones, lines, masks (normalised 0..1)")


@router.get("/cameras", response_model=AnalyticsListPublic)
def settings_list(p: Reader, session: ReadSessionDep, region: str | None = None,
                  enabled: bool | None = None) -> dict:
    """The analytics settings of the cameras in the caller's regions."""
    rows = list_settings(session, p.scope, region=region, enabled=enabled)
    return {"items": [setting_json(r) for r in rows], "total": len(rows)}


@router.get("/cameras/{camera_id}", response_model=AnalyticsPublic)
def setting_detail(camera_id: str, p: Reader, session: ReadSessionDep) -> dict:
    """One camera's setting (disabled if never set; 404 outside the caller's regions)."""
    return setting_json(get_setting(session, camera_id, p.scope))


@router.put("/cameras/{camera_id}", response_model=AnalyticsPublic)
def setting_update(camera_id: str, body: AnalyticsIn, p: Manager, session: SessionDep) -> dict:
    """Switch analytics of a camera on or off (admin, duty officer); `vigil serve` follows within a minute."""
    kw = {"zones": body.zones} if "zones" in body.model_fields_set else {}
    row = set_analytics(session, camera_id, enabled=body.enabled, actor=p.name, scope=p.scope, **kw)
    return setting_json(row)
