"""Validated input and output shapes for registry objects (separate Create / Update / Public)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from vigil.core.ids import DeviceId, validate_region_code
from vigil.core.models import CameraKind, FormFactor, Lifecycle, Owner, SiteKind
from vigil.registry.streams import validate_stream_url

_FORBID = ConfigDict(extra="forbid")


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
    code: str = Field(description="4, 6, 8 or 11 digits")
    name: str = Field(min_length=1, max_length=120)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)

    _v = field_validator("code")(_region)


class RegionPatch(BaseModel):
    """Fields of a region that may change."""

    model_config = _FORBID
    name: str | None = Field(None, min_length=1, max_length=120)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class SiteIn(BaseModel):
    """A site to create."""

    model_config = _FORBID
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind = SiteKind.OTHER
    protection_class: int = Field(3, ge=1, le=3)
    sensitive: bool = False
    region_code: str
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON geometry in WGS84")
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)

    _v = field_validator("region_code")(_region)


class SitePatch(BaseModel):
    """Fields of a site that may change."""

    model_config = _FORBID
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: SiteKind | None = None
    protection_class: int | None = Field(None, ge=1, le=3)
    sensitive: bool | None = None
    geometry: dict[str, Any] | None = None
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


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
    id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    region_code: str
    site_id: int | None = None
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
        return DeviceId.parse(v).value if v else None


class CameraPatch(BaseModel):
    """Fields of a camera that may change (the ID and region never change)."""

    model_config = _FORBID
    name: str | None = Field(None, min_length=1, max_length=200)
    site_id: int | None = None
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
