"""Tables of the GB/T 28181 registrar: configured devices and the channel tree they report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.models import Base, utcnow

__all__ = ["GbChannel", "GbDevice", "GbUpper"]


class GbDevice(Base):
    """A device (IPC, NVR, lower platform) allowed to register, with its last known registration."""

    __tablename__ = "gb_devices"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    # comma-separated IP addresses it may register from; empty: any
    allowed_hosts: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    transport: Mapped[str] = mapped_column(String(3), default="")
    host: Mapped[str] = mapped_column(String(64), default="")
    port: Mapped[int] = mapped_column(Integer, default=0)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    manufacturer: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    firmware: Mapped[str] = mapped_column(String(100), default="")
    channel_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GbChannel(Base):
    """One node of a device's catalog: a camera (linked to the registry) or a directory node."""

    __tablename__ = "gb_channels"

    device_id: Mapped[str] = mapped_column(ForeignKey("gb_devices.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    parent_id: Mapped[str] = mapped_column(String(20), default="", index=True)
    civil_code: Mapped[str] = mapped_column(String(12), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(12), default="camera")  # camera | directory
    status: Mapped[str] = mapped_column(String(12), default="")
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GbUpper(Base):
    """An upper platform Vigil registers to (cascade), with the rules of what it is shown."""

    __tablename__ = "gb_uppers"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # the upper platform's SIP server ID
    host: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    local_id: Mapped[str] = mapped_column(String(20))  # the ID Vigil registers with (type 200)
    password_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires: Mapped[int] = mapped_column(Integer, default=3600)
    keepalive: Mapped[int] = mapped_column(Integer, default=60)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # what the running link last reported (written by the link task, shown by the console)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None]
    last_keepalive: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(200), default="")
