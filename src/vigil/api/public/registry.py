"""Response models of sign-in, camera models, the map layer, rollups, the region tree and the audit log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from vigil.api.public.common import Stamp

__all__ = ["AuditEntryPublic", "AuditPagePublic", "AuditVerifyPublic", "CameraFeaturePublic", "CameraMapPublic",
           "CameraModelListPublic", "CameraModelPublic", "LoginPublic", "MePublic", "RegionNodePublic",
           "RollupPublic", "RollupsPublic", "SiteFeaturePublic", "SiteMapPublic"]


class MePublic(BaseModel):
    """The signed-in user: role, region scopes, team and console language ("" follows the browser)."""

    name: str
    role: str
    scopes: list[str] = Field(description="region codes whose subtrees the user sees")
    team: str
    locale: str


class LoginPublic(BaseModel):
    """A bearer token (also set as the ``vigil_token`` cookie) and who it belongs to."""

    token: str
    user: MePublic


class CameraModelPublic(BaseModel):
    """A camera model of the catalog."""

    id: int
    name: str
    vendor: str
    h_res_px: int
    v_res_px: int
    hfov_deg: float
    vfov_deg: float
    ir_range_m: float
    form_factor: str
    unit_cost: float
    onvif: bool


class CameraModelListPublic(BaseModel):
    """Every camera model."""

    items: list[CameraModelPublic]


class _Point(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2, description="[lon, lat] (WGS84)")


class _CameraProps(BaseModel):
    id: str
    name: str
    kind: str
    lifecycle: str
    heading_deg: float | None
    status: str | None = Field(description="up, down... (none before the first probe)")


class CameraFeaturePublic(BaseModel):
    """A camera as a GeoJSON point."""

    type: Literal["Feature"]
    geometry: _Point
    properties: _CameraProps


class CameraMapPublic(BaseModel):
    """Cameras as a GeoJSON FeatureCollection (the map layer)."""

    type: Literal["FeatureCollection"]
    features: list[CameraFeaturePublic]


class _SiteProps(BaseModel):
    id: int
    name: str
    kind: str
    protection_class: int
    sensitive: bool
    region_code: str


class SiteFeaturePublic(BaseModel):
    """A site as a GeoJSON feature (its polygon, coordinates to 1e-6 degree)."""

    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any]
    properties: _SiteProps


class SiteMapPublic(BaseModel):
    """Sites as a GeoJSON FeatureCollection (the map's base layer)."""

    type: Literal["FeatureCollection"]
    features: list[SiteFeaturePublic]


class _RegionRef(BaseModel):
    code: str
    name: str
    level: int


class _Counts(BaseModel):
    total: int
    by_kind: dict[str, int]
    by_owner: dict[str, int]
    by_lifecycle: dict[str, int]


class _ChildCounts(_RegionRef, _Counts):
    """One child region with its camera counts."""


class RollupPublic(_Counts):
    """Camera counts of a region, by kind, owner and lifecycle, and of each child region."""

    region: _RegionRef
    children: list[_ChildCounts]


class RollupsPublic(BaseModel):
    """One rollup per scope root (a caller with several region scopes)."""

    regions: list[RollupPublic]


class RegionNodePublic(BaseModel):
    """A region with its camera count and the children below it (to the depth asked for)."""

    code: str
    name: str
    level: int
    cameras: int = Field(description="cameras in the subtree that the caller sees")
    has_children: bool = Field(description="children exist (shown, or below the depth asked for)")
    children: list[RegionNodePublic]


class AuditEntryPublic(BaseModel):
    """One entry of the hash-chained audit log."""

    seq: int
    ts: Stamp
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    hash: str


class AuditPagePublic(BaseModel):
    """A page of audit entries, newest first, with the true total."""

    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int


class AuditVerifyPublic(BaseModel):
    """The outcome of checking the whole chain."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str
