"""Validated input and output shapes for registry objects (separate Create / Update / Public)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from vigil.core.ids import parse_camera_id, validate_region_code
from vigil.core.models import CameraKind, FormFactor, Lifecycle, Owner, SiteKind
from vigil.registry.geometry import MAX_VERTICES, validate_polygon
from vigil.registry.streams import validate_stream_url

_FORBID = ConfigDict(extra="forbid")
T = TypeVar("T")
#: the largest integer the database stores (SQL BIGINT); a bigger ID cannot name a stored row
INT64_MAX = 2**63 - 1
#: GB/T 2260 region codes: 4 digits prefecture, 6 city/county, 8 town/street, 11 village/community
REGION_CODE = r"^(\d{4}|\d{6}|\d{8}|\d{11})$"
#: GB/T 28181 device IDs: 8-digit centre code, 2 industry, 3 type (131/132 for cameras), 1 network, 6 serial
DEVICE_ID = r"^\d{20}$"
_GEOMETRY = (f"GeoJSON Polygon or MultiPolygon in WGS84 (lon -180..180, lat -90..90), valid (no self-crossing), "
             f"at most {MAX_VERTICES} vertices")
_OUTLINE = f"where the region lies (optional; null clears it): {_GEOMETRY}"


def not_null(v: Any, info: ValidationInfo) -> Any:
    """A field that may be left out of a change but never set to null (it is required on the object)."""
    if v is None:
        raise ValueError(f"{info.field_name} may be omitted but not null")
    return v


def _geometry(v: Any) -> Any:
    """The site rule of the importer (:func:`vigil.registry.geometry.validate_polygon`)."""
    return None if v is None else validate_polygon(v)


def _region(v: str) -> str:
    return validate_region_code(v)


def _stream_url(v: str | None, info: ValidationInfo) -> str | None:
    """Stream URLs: rtsp(s) only; ONVIF: http(s) only; never credentials inside (the registry's rule)."""
    if v is None:
        return None
    return validate_stream_url(v, kind="onvif" if info.field_name == "onvif_url" else "rtsp",
                               field=info.field_name or "url")


class RegionIn(BaseModel):
    """A region to create."""

    model_config = _FORBID
    code: str = Field(description="GB/T 2260 code: 4, 6, 8 or 11 digits", pattern=REGION_CODE)
    name: str = Field(min_length=1, max_length=120)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    outline: dict[str, Any] | None = Field(None, description=_OUTLINE)

    _v = field_validator("code")(_region)
    _g = field_validator("outline")(_geometry)


class RegionPatch(BaseModel):
    """Fields of a region that may change (an outline sent as null is cleared)."""

    model_config = _FORBID
    name: str | None = Field(None, min_length=1, max_length=120)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    outline: dict[str, Any] | None = Field(None, description=_OUTLINE)

    _nn = field_validator("name", mode="before")(not_null)
    _g = field_validator("outline")(_geometry)


class SiteIn(BaseModel):
    """A site to create."""

    model_config = _FORBID
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind = SiteKind.OTHER
    protection_class: int = Field(3, ge=1, le=3)
    sensitive: bool = False
    region_code: str = Field(pattern=REGION_CODE)
    geometry: dict[str, Any] | None = Field(None, description=_GEOMETRY)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)

    _v = field_validator("region_code")(_region)
    _g = field_validator("geometry")(_geometry)


class SitePatch(BaseModel):
    """Fields of a site that may change."""

    model_config = _FORBID
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: SiteKind | None = None
    protection_class: int | None = Field(None, ge=1, le=3)
    sensitive: bool | None = None
    geometry: dict[str, Any] | None = Field(None, description=_GEOMETRY)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)

    _nn = field_validator("name", "kind", "protection_class", "sensitive", mode="before")(not_null)
    _g = field_validator("geometry")(_geometry)


class ModelIn(BaseModel):
    """A camera model."""

    model_config = _FORBID
    name: str = Field(min_length=1, max_length=100)
    vendor: str = ""
    h_res_px: int = Field(gt=0, le=20000)
    v_res_px: int = Field(gt=0, le=20000)
    hfov_deg: float = Field(gt=0, le=360)
    vfov_deg: float = Field(gt=0, le=180)
    ir_range_m: float = Field(0, ge=0)
    form_factor: FormFactor = FormFactor.BULLET
    unit_cost: float = Field(0, ge=0)
    onvif: bool = True


class CameraIn(BaseModel):
    """A camera to create; ``id`` may be omitted and is then generated for the region."""

    model_config = _FORBID
    id: str | None = Field(None, pattern=DEVICE_ID, description="GB/T 28181 ID of a camera (type code below 200, "
                           "centre code of its region); generated when omitted")
    name: str = Field(min_length=1, max_length=200)
    region_code: str = Field(pattern=REGION_CODE)
    site_id: int | None = Field(None, ge=1, le=INT64_MAX)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    height_m: float = Field(4.0, ge=0, le=500)
    heading_deg: float = Field(0.0, ge=0, lt=360)
    tilt_deg: float = Field(15.0, ge=-90, le=90)
    model: str | None = None
    kind: CameraKind = CameraKind.OTHER
    owner: Owner = Owner.PUBLIC_SECURITY
    lifecycle: Lifecycle = Lifecycle.PLANNED
    main_url: str = ""
    sub_url: str = ""
    onvif_url: str = ""
    username: str = ""
    password: str = ""
    allow_basic_auth: bool = Field(False, description="let the prober send the password by Basic auth "
                                   "over plain RTSP (off: only Digest)")

    _v = field_validator("region_code")(_region)
    _urls = field_validator("main_url", "sub_url", "onvif_url")(_stream_url)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        return parse_camera_id(v).value if v else None


class CameraPatch(BaseModel):
    """Fields of a camera that may change (the ID and region never change)."""

    model_config = _FORBID
    name: str | None = Field(None, min_length=1, max_length=200)
    site_id: int | None = Field(None, ge=1, le=INT64_MAX)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    height_m: float | None = Field(None, ge=0, le=500)
    heading_deg: float | None = Field(None, ge=0, lt=360)
    tilt_deg: float | None = Field(None, ge=-90, le=90)
    model: str | None = None
    kind: CameraKind | None = None
    owner: Owner | None = None
    lifecycle: Lifecycle | None = None
    main_url: str | None = None
    sub_url: str | None = None
    onvif_url: str | None = None
    username: str | None = None
    password: str | None = None
    allow_basic_auth: bool | None = None

    _urls = field_validator("main_url", "sub_url", "onvif_url")(_stream_url)
    _nn = field_validator("name", "lon", "lat", "height_m", "heading_deg", "tilt_deg", "kind", "owner", "lifecycle",
                          "main_url", "sub_url", "onvif_url", "username", "allow_basic_auth", mode="before")(not_null)


# ----------------------------------------------------------------------------- public shapes (answers)
class RegionPublic(BaseModel):
    """A region in a list: whether it has an outline, not the outline itself."""

    code: str = Field(pattern=REGION_CODE)
    name: str
    level: int = Field(ge=1, le=4)
    parent_code: str | None
    lon: float | None
    lat: float | None
    has_outline: bool


class RegionDetailPublic(RegionPublic):
    """One region, with its outline."""

    outline: dict[str, Any] | None = Field(description=_OUTLINE)


class _RegionProps(BaseModel):
    code: str = Field(pattern=REGION_CODE)
    name: str
    level: int = Field(ge=1, le=4)
    parent_code: str | None
    label: list[float] = Field(description="[lon, lat] of a point inside the outline, where its name goes",
                               min_length=2, max_length=2)


class RegionFeaturePublic(BaseModel):
    """One region outline of the map's base layer."""

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] = Field(description=_GEOMETRY)
    properties: _RegionProps


class RegionMapPublic(BaseModel):
    """Region outlines as a GeoJSON FeatureCollection (a base layer of the map)."""

    type: Literal["FeatureCollection"]
    features: list[RegionFeaturePublic]


class SitePublic(BaseModel):
    """A site as the API answers it."""

    id: int
    name: str
    kind: SiteKind
    protection_class: int = Field(ge=1, le=3)
    sensitive: bool
    region_code: str
    geometry: dict[str, Any] | None = Field(description=_GEOMETRY)
    lon: float | None
    lat: float | None


class CameraStatusPublic(BaseModel):
    """A camera's latest probe state."""

    state: str = Field(description="online, down or unknown")
    reason: str
    since: datetime
    faults: list[Any]


class CameraPublic(BaseModel):
    """A camera in a list: no stream URLs, never a password."""

    id: str = Field(pattern=DEVICE_ID)
    name: str
    region_code: str
    site_id: int | None
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    height_m: float
    heading_deg: float
    tilt_deg: float
    kind: CameraKind
    owner: Owner
    lifecycle: Lifecycle
    model: str | None
    status: CameraStatusPublic | None


class CameraDetailPublic(CameraPublic):
    """One camera: stream URLs with their credentials redacted, whether a password is stored."""

    main_url: str
    sub_url: str
    onvif_url: str
    username: str
    has_password: bool
    allow_basic_auth: bool
    created_at: datetime
    updated_at: datetime


class Page(BaseModel, Generic[T]):
    """One page of a search."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
