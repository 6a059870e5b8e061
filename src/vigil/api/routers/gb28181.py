"""GB/T 28181 for the console: registered devices, their channel trees, and the cascade to upper platforms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from vigil.access.users import Principal
from vigil.api.deps import SessionDep, require
from vigil.gb28181.views import (
    GbChannelPublic,
    GbDevicePublic,
    GbUpperPublic,
    device_channels,
    device_view,
    devices,
    uppers,
)

router = APIRouter()
Reader = Annotated[Principal, Depends(require("registry.read"))]


@router.get("/devices")
def list_devices(p: Reader, session: SessionDep) -> list[GbDevicePublic]:
    """Devices in your scope with their registration (online, expiry), last keepalive and source address."""
    return devices(session, p.scope)


@router.get("/devices/{device_id}")
def get_device(device_id: str, p: Reader, session: SessionDep) -> GbDevicePublic:
    """One device in your scope."""
    return device_view(session, p.scope, device_id)


@router.get("/devices/{device_id}/channels")
def channels(device_id: str, p: Reader, session: SessionDep) -> list[GbChannelPublic]:
    """A device's catalog: directory nodes and camera channels (with their registry camera), in your scope."""
    return device_channels(session, p.scope, device_id)


@router.get("/uppers")
def list_uppers(p: Reader, session: SessionDep) -> list[GbUpperPublic]:
    """Upper platforms this instance registers to whose shared regions are all yours: state, shared channels."""
    return uppers(session, p.scope)
