"""What the console is shown of GB/T 28181: devices, their channel trees and the upward links (never a password)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from vigil.access.guard import Scope
from vigil.federation.rules import ShareRules
from vigil.gb28181 import store
from vigil.gb28181.cascade import list_uppers, shared_count
from vigil.gb28181.models import GbDevice

__all__ = ["GbChannelPublic", "GbDevicePublic", "GbUpperPublic", "device_channels", "device_view", "devices",
           "uppers"]


class GbDevicePublic(BaseModel):
    """A device allowed to register, with its last registration and keepalive."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    region_code: str | None
    enabled: bool
    online: bool
    transport: str
    host: str
    port: int
    registered_at: datetime | None
    expires_at: datetime | None
    last_seen: datetime | None
    manufacturer: str
    model: str
    firmware: str
    channel_count: int


class GbChannelPublic(BaseModel):
    """One node of a device's catalog: a camera channel (with its registry camera) or a directory node."""

    model_config = ConfigDict(from_attributes=True)

    channel_id: str
    parent_id: str
    civil_code: str
    name: str
    kind: str
    status: str
    camera_id: str | None
    updated_at: datetime


class GbUpperPublic(BaseModel):
    """An upper platform Vigil registers to: where, as whom, what it is shown, and the link's last state."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    host: str
    port: int
    local_id: str
    expires: int
    keepalive: int
    rules: dict[str, Any]
    enabled: bool
    registered: bool
    registered_at: datetime | None
    last_keepalive: datetime | None
    last_error: str
    shared_channels: int = 0


def _public(row: GbDevice) -> GbDevicePublic:
    return GbDevicePublic.model_validate(row)


def devices(session: Session, scope: Scope) -> list[GbDevicePublic]:
    """The devices in ``scope`` (the list ``vigil gb device list`` prints)."""
    return [_public(d) for d in store.list_devices(session, scope)]


def device_view(session: Session, scope: Scope, device_id: str) -> GbDevicePublic:
    """One device in ``scope`` (404 alike for a missing or a hidden one)."""
    return _public(store.get_device(session, scope, device_id))


def device_channels(session: Session, scope: Scope, device_id: str) -> list[GbChannelPublic]:
    """A device's channel tree in ``scope``."""
    return [GbChannelPublic.model_validate(c) for c in store.device_channels(session, scope, device_id)]


def uppers(session: Session, scope: Scope) -> list[GbUpperPublic]:
    """The upward links whose shared regions lie in ``scope``, their state and how many channels each is shown."""
    out = []
    for row in list_uppers(session, scope):
        pub = GbUpperPublic.model_validate(row)
        pub.shared_channels = shared_count(session, ShareRules(**row.rules))
        out.append(pub)
    return out
