"""Response models of the video, events and analytics routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vigil.api.public.common import Stamp

__all__ = ["AnalyticsListPublic", "AnalyticsPublic", "EventPagePublic", "EventPublic", "ExportPublic",
           "MasksPublic", "RecordingsPublic", "RetrievalListPublic", "RetrievalRequestPublic"]


class _Span(BaseModel):
    start: Stamp
    end: Stamp
    bytes: int
    complete: bool


class RecordingsPublic(BaseModel):
    """The recorded spans of a camera (times and sizes only)."""

    camera_id: str
    segments: list[_Span]


class _Mask(BaseModel):
    id: int
    name: str
    polygon: list[Any] = Field(description="[[x, y], ...] normalised 0..1")
    enabled: bool


class MasksPublic(BaseModel):
    """A camera's privacy masks."""

    camera_id: str
    masks: list[_Mask]


class RetrievalRequestPublic(BaseModel):
    """A retrieval request: its reason and its approval state."""

    id: int
    camera_id: str
    requester: str
    start: Stamp
    end: Stamp
    kind: str
    reason: str
    needs_approval: bool
    state: str = Field(description="pending, approved or denied")
    approver: str | None
    decided_at: Stamp | None
    note: str
    created_at: Stamp


class RetrievalListPublic(BaseModel):
    """Retrieval requests."""

    items: list[RetrievalRequestPublic]


class ExportPublic(BaseModel):
    """An export: its SHA-256 manifest and signature (files at ``/api/v1/video/exports/{id}``)."""

    id: int
    request_id: int
    masked: bool
    manifest: dict[str, Any]
    signature: str
    created_by: str
    created_at: Stamp


class EventPublic(BaseModel):
    """An analytics event (the snapshot as a link)."""

    id: int
    uid: str
    camera_id: str
    region_code: str
    type: str
    label: str
    start: Stamp
    end: Stamp | None
    zone: str | None
    direction: str | None
    box: list[Any]
    score: float
    clip_url: str
    snapshot_url: str | None


class EventPagePublic(BaseModel):
    """A page of events, newest first, with the true total."""

    items: list[EventPublic]
    total: int
    limit: int
    offset: int


class AnalyticsPublic(BaseModel):
    """A camera's analytics switch and zones."""

    camera_id: str
    enabled: bool
    zones: dict[str, Any] | None
    updated_by: str
    updated_at: Stamp | None = Field(description="none: never set")


class AnalyticsListPublic(BaseModel):
    """Analytics settings."""

    items: list[AnalyticsPublic]
    total: int
