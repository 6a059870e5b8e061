"""The domain model shared by every capability: regions, sites, camera models, cameras, users, audit.

Capability packages (health, video, analytics, coverage, federation) declare their own
tables on the same :class:`Base`; :mod:`vigil.core.schema` collects them all.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Vigil table."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class SiteKind(enum.StrEnum):
    """Kinds of place that must be watched."""

    RESIDENTIAL = "residential"
    VILLAGE = "village"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    STATION = "station"
    SQUARE = "square"
    GAS_STATION = "gas_station"
    CROSSROADS = "crossroads"
    GOVERNMENT = "government"
    OTHER = "other"


class CameraKind(enum.StrEnum):
    """The role of a camera in the network (drives retention and reporting)."""

    COMMUNITY_ENTRANCE = "community_entrance"
    GAS_STATION = "gas_station"
    KEY_SITE = "key_site"
    PUBLIC_AREA = "public_area"
    HIGH_POINT = "high_point"
    MICRO_CHECKPOINT = "micro_checkpoint"
    TRAFFIC_CHECKPOINT = "traffic_checkpoint"
    OTHER = "other"


class Owner(enum.StrEnum):
    """Who owns and pays for a camera."""

    PUBLIC_SECURITY = "public_security"
    TRAFFIC = "traffic"
    TOWN = "town"
    PROJECT = "project"
    CITY_MANAGEMENT = "city_management"


class Lifecycle(enum.StrEnum):
    """Camera lifecycle: planned → installed → in_service → retired."""

    PLANNED = "planned"
    INSTALLED = "installed"
    IN_SERVICE = "in_service"
    RETIRED = "retired"


class FormFactor(enum.StrEnum):
    """Camera housing types."""

    BULLET = "bullet"
    DOME = "dome"
    PTZ = "ptz"
    PANORAMIC = "panoramic"


class Role(enum.StrEnum):
    """User roles."""

    ADMIN = "admin"
    DUTY_OFFICER = "duty_officer"
    INVESTIGATOR = "investigator"
    MAINTENANCE = "maintenance"
    AUDITOR = "auditor"
    PLANNER = "planner"


class Region(Base):
    """A node of the four-level administrative tree."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[int] = mapped_column(Integer, index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    # where the region lies: a GeoJSON (Multi)Polygon in WGS84, checked by the site rule (vigil.registry.geometry)
    outline: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # None: SQL NULL
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # optimistic versioning: every ORM update checks and bumps it (a lost update is a StaleDataError)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class Site(Base):
    """A place that must be watched: a polygon with a kind and a protection class (1 most critical)."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("region_code", "name", name="uq_site_region_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=SiteKind.OTHER.value)
    protection_class: Mapped[int] = mapped_column(Integer, default=3)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # optimistic versioning: every ORM update checks and bumps it (a lost update is a StaleDataError)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class CameraModel(Base):
    """A camera model: optics, IR range, housing and unit cost."""

    __tablename__ = "camera_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    vendor: Mapped[str] = mapped_column(String(100), default="")
    h_res_px: Mapped[int] = mapped_column(Integer)
    v_res_px: Mapped[int] = mapped_column(Integer)
    hfov_deg: Mapped[float] = mapped_column(Float)
    vfov_deg: Mapped[float] = mapped_column(Float)
    ir_range_m: Mapped[float] = mapped_column(Float, default=0.0)
    form_factor: Mapped[str] = mapped_column(String(20), default=FormFactor.BULLET.value)
    unit_cost: Mapped[float] = mapped_column(Float, default=0.0)
    onvif: Mapped[bool] = mapped_column(Boolean, default=True)


class Camera(Base):
    """A camera, keyed by its GB/T 28181 20-digit ID."""

    __tablename__ = "cameras"
    __table_args__ = (
        Index("ix_cameras_region_lifecycle", "region_code", "lifecycle"),
        Index("ix_cameras_kind", "kind"),
    )

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    height_m: Mapped[float] = mapped_column(Float, default=4.0)
    heading_deg: Mapped[float] = mapped_column(Float, default=0.0)
    tilt_deg: Mapped[float] = mapped_column(Float, default=15.0)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("camera_models.id"))
    kind: Mapped[str] = mapped_column(String(30), default=CameraKind.OTHER.value)
    owner: Mapped[str] = mapped_column(String(30), default=Owner.PUBLIC_SECURITY.value)
    lifecycle: Mapped[str] = mapped_column(String(20), default=Lifecycle.IN_SERVICE.value)
    main_url: Mapped[str] = mapped_column(String(500), default="")
    sub_url: Mapped[str] = mapped_column(String(500), default="")
    username: Mapped[str] = mapped_column(String(100), default="")
    password_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    onvif_url: Mapped[str] = mapped_column(String(500), default="")
    # the prober may answer a Basic challenge over plain RTSP (the password then crosses in clear)
    allow_basic_auth: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # optimistic versioning: every ORM update checks and bumps it (a lost update is a StaleDataError)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    model: Mapped[CameraModel | None] = relationship(lazy="joined")
    site: Mapped[Site | None] = relationship(lazy="select")


#: a camera ID's centre code, device type code and serial number (GB/T 28181: characters 1-8, 11-13, 15-20)
#: (the positions are literals: SQLite uses an expression index only for the very same expression, not for bound ones)
CAMERA_ID_PARTS = tuple(func.substr(Camera.id, literal_column(str(at)), literal_column(str(n)))
                        for at, n in ((1, 8), (11, 3), (15, 6)))
# the highest serial of a centre and type is one index step away (vigil.registry.cameras.next_serial)
Index("ix_cameras_centre_type_serial", *CAMERA_ID_PARTS)


class User(Base):
    """A person who signs in. Scoped to one or more region subtrees."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the console language the user chose ("zh-CN", "en"); empty: follow the browser
    locale: Mapped[str] = mapped_column(String(10), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the account that created this one (None for the first admin): a second person must not be either
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL",
                                                              name="fk_users_created_by"))
    # optimistic versioning: every ORM update checks and bumps it (a lost update is a StaleDataError)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    regions: Mapped[list[UserRegion]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def region_codes(self) -> list[str]:
        return sorted(r.region_code for r in self.regions)


class UserRegion(Base):
    """A region subtree a user may see."""

    __tablename__ = "user_regions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Secret(Base):
    """Instance-wide secrets and settings kept in the database (e.g. the signing-key id)."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
