"""Response models of imports, the centre's sign-off and performance, and federation answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["FeedPublic", "ImportPublic", "PeerRetrievalPublic", "PerformancePublic", "RemoteRetrievalPublic",
           "SignOffPublic"]


class ImportPublic(BaseModel):
    """The outcome of one import (or of a dry run, which stores nothing)."""

    kind: str
    source: str
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    seconds: float
    generated_ids: int = Field(description="camera IDs generated for rows without one")


class SignOffPublic(BaseModel):
    """How many duty sign-ons were ended."""

    signed_off: int


class _Tally(BaseModel):
    rounds: int
    on_time: int
    late: int
    missed: int
    alarms: int
    acked_in_time: int
    closed_in_sla: int
    incidents: int


class _ContractorTally(BaseModel):
    closed: int
    sla_hours: float
    median_hours: float | None
    within_sla: int


class PerformancePublic(BaseModel):
    """A month's tallies per person, team, shift and contractor."""

    month: str
    region: str
    people: dict[str, _Tally]
    teams: dict[str, _Tally]
    shifts: dict[str, _Tally]
    contractors: dict[str, _ContractorTally]


class FeedPublic(BaseModel):
    """What a child's batch did here."""

    seq: int
    applied: bool
    upserts: int
    deletes: int
    events: int
    refused: list[str]


class RemoteRetrievalPublic(BaseModel):
    """A retrieval request filed on a remote camera's own instance."""

    camera_id: str
    remote_request: int | None
    state: str | None
    needs_approval: bool
    request_id: str


class PeerRetrievalPublic(BaseModel):
    """The request this instance filed for its parent."""

    id: int
    state: str
    needs_approval: bool
