"""Shared pieces of the response models: time stamps as the API writes them, small answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

__all__ = ["ConfigPublic", "IsoTime", "OkPublic", "ServicePublic", "Stamp"]

#: a time the API writes with :meth:`datetime.isoformat` (RFC 3339, an offset such as ``+00:00``)
Stamp = Annotated[datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json")]
#: a time the library already wrote as an ISO 8601 string
IsoTime = Annotated[str, Field(description="ISO 8601 time")]


class OkPublic(BaseModel):
    """A yes/no outcome for one user."""

    ok: bool
    user: str


class ConfigPublic(BaseModel):
    """Console settings."""

    tile_url: str = Field(description="map tile URL template; empty: the map draws Vigil's own vectors")
    tile_attribution: str
    time_zone: str


class ServicePublic(BaseModel):
    """The service is up: its version and database dialect."""

    status: str
    version: str
    database: str
