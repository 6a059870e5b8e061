"""Request and response models of the centre's API (``/api/v1/centre``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CaseDetail", "CaseExportPublic", "CaseIn", "CasePublic", "CaseRetrievalIn", "RetrievalPublic", "RoutedAlarmPublic", "DutyPublic", "EscalationPublic",
           "HandoverIn", "HandoverPublic", "IncidentIn", "IncidentPatch", "IncidentPublic", "ItemIn", "LinkIn",
           "RoundCamera", "RoundIn", "RoundPublic", "RunDetail", "RunPublic", "ShiftIn", "ShiftPublic",
           "SignOnIn", "TimelineItem", "TrafficNodePublic", "TrafficPublic", "QueueLengthsPublic", "TrafficSeriesPublic", "ViewIn",
           "ViewPublic"]


class _In(BaseModel):
    """A request body (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    """A response read from ORM attributes."""

    model_config = ConfigDict(from_attributes=True)


class ShiftIn(_In):
    """A shift of a centre's team: start (local HH:MM), length, alarm response time."""

    region_code: str = Field(max_length=12)
    name: str = Field(min_length=1, max_length=60)
    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    hours: float = Field(default=8.0, gt=0, le=24)
    team: str = Field(default="", max_length=100)
    response_minutes: int = Field(default=15, ge=1, le=1440)


class ShiftPublic(_Out):
    """A shift definition."""

    id: int
    region_code: str
    team: str
    name: str
    start_minute: int
    hours: float
    response_minutes: int


class SignOnIn(_In):
    """Sign on to a shift, as its leader or not."""

    shift_id: int
    leader: bool = False


class DutyPublic(_Out):
    """A duty session."""

    id: int
    shift_id: int
    region_code: str
    user_name: str
    leader: bool
    on_at: datetime
    off_at: datetime | None


class HandoverIn(_In):
    """The outgoing officer's notes (the open items are gathered by the server)."""

    shift_id: int
    notes: str = Field(default="", max_length=5000)


class HandoverPublic(_Out):
    """A handover and what it passed on."""

    id: int
    shift_id: int
    region_code: str
    outgoing: str
    written_at: datetime
    notes: str
    items: dict[str, Any]
    incoming: str
    acked_at: datetime | None


class EscalationPublic(_Out):
    """An alarm escalated to a shift leader."""

    id: int
    alarm_id: int
    region_code: str
    to_user: str
    routed_to: list[str]
    at: datetime


class RoundCamera(_In):
    """A camera (and optional preset) of a round."""

    camera_id: str = Field(max_length=20)
    preset: str = Field(default="", max_length=40)


class RoundIn(_In):
    """A patrol round: cameras (or presets) with a dwell time and a checklist, due at hours or per shift."""

    region_code: str = Field(max_length=12)
    name: str = Field(min_length=1, max_length=100)
    cameras: list[RoundCamera] = Field(min_length=1, max_length=64)
    dwell_s: int = Field(default=20, ge=3, le=600)
    checklist: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=20)
    hours: list[Annotated[int, Field(ge=0, le=23)]] = Field(default_factory=list, max_length=24)
    shift_id: int | None = None
    grace_minutes: int = Field(default=30, ge=0, le=720)


class RoundPublic(_Out):
    """A patrol round."""

    id: int
    region_code: str
    name: str
    cameras: list[dict[str, str]]
    dwell_s: int
    checklist: list[str]
    hours: list[int]
    shift_id: int | None
    grace_minutes: int


class ViewPublic(_Out):
    """One marked view of a run."""

    id: int
    camera_id: str
    status: str
    note: str
    snapshot: str
    checks: dict[str, bool]
    incident_id: int | None
    order_id: int | None
    at: datetime


class RunPublic(_Out):
    """A run of a round."""

    id: int
    round_id: int
    region_code: str
    due_at: datetime | None
    officer: str
    started_at: datetime | None
    finished_at: datetime | None
    state: str
    late: bool


class RunDetail(RunPublic):
    """A run with its round, camera names and views."""

    round: RoundPublic
    camera_names: dict[str, str]
    views: list[ViewPublic]


class ViewIn(_In):
    """One view of a run: normal or abnormal, with a note, a snapshot reference and a follow-up."""

    camera_id: str = Field(max_length=20)
    status: Literal["normal", "abnormal"]
    note: str = Field(default="", max_length=2000)
    snapshot: str = Field(default="", max_length=300)
    checks: dict[str, bool] = Field(default_factory=dict)
    follow_up: Literal["none", "incident", "workorder"] = "none"


class IncidentIn(_In):
    """A new incident."""

    region_code: str = Field(max_length=12)
    title: str = Field(min_length=1, max_length=200)
    assignee: str = Field(default="", max_length=100)


class IncidentPatch(_In):
    """A change of status or assignee."""

    status: Literal["open", "investigating", "closed"] | None = None
    assignee: str | None = Field(default=None, max_length=100)


class ItemIn(_In):
    """A timeline entry: an event, alarm, clip (retrieval request), snapshot (camera), position or note."""

    kind: Literal["event", "alarm", "clip", "snapshot", "position", "note"]
    ref: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=2000)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    at: datetime | None = None


class TimelineItem(BaseModel):
    """One entry of an incident's timeline."""

    id: int
    kind: str
    ref: str
    note: str
    lon: float | None
    lat: float | None
    at: str
    by: str


class IncidentPublic(BaseModel):
    """An incident with its timeline."""

    id: int
    region_code: str
    title: str
    status: str
    assignee: str
    created_by: str
    created_at: str
    case_id: int | None
    timeline: list[TimelineItem]


class CaseIn(_In):
    """A new case file."""

    number: str = Field(min_length=1, max_length=60)
    region_code: str = Field(max_length=12)
    title: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=4, max_length=2000)


class CasePublic(_Out):
    """A case file."""

    id: int
    number: str
    region_code: str
    title: str
    reason: str
    created_by: str
    created_at: datetime


class CaseDetail(BaseModel):
    """A case with its incidents and retrieval requests."""

    id: int
    number: str
    region_code: str
    title: str
    reason: str
    created_by: str
    created_at: str
    incidents: list[IncidentPublic]
    retrievals: list[dict[str, Any]]


class LinkIn(_In):
    """File one incident or one retrieval request under the case."""

    incident_id: int | None = None
    request_id: int | None = None


class CaseExportPublic(_Out):
    """A case export with its chain of custody."""

    id: int
    case_id: int
    custody: dict[str, Any]
    created_by: str
    created_at: datetime


class TrafficSeriesPublic(BaseModel):
    """Vehicle counts of one lane and direction of a camera, per bucket."""

    camera_id: str
    lane: str
    direction: str
    counts: list[int]
    total: int


class TrafficNodePublic(BaseModel):
    """Vehicle counts of a road node (a site, or a camera without one), per bucket."""

    node: str
    name: str
    counts: list[int]
    total: int
    directions: dict[str, list[int]] = Field(default_factory=dict, description="The counts per direction")


class TrafficPublic(BaseModel):
    """Line-crossing counts: bucket starts, series per lane and direction, sums per road node."""

    buckets: list[str]
    series: list[TrafficSeriesPublic]
    nodes: list[TrafficNodePublic]


class QueueSeriesPublic(BaseModel):
    """The longest queue (metres) of one lane zone of a camera per bucket (null: no sample)."""

    camera_id: str
    zone: str
    max_m: list[float | None]
    peak_m: float | None


class QueueNodePublic(BaseModel):
    """The longest queue of any lane of a road node (a site, or a camera without one) per bucket."""

    node: str
    name: str
    max_m: list[float | None]


class QueueLengthsPublic(BaseModel):
    """Queue lengths: bucket starts, series per lane zone, maxima per road node."""

    buckets: list[str]
    series: list[QueueSeriesPublic]
    nodes: list[QueueNodePublic]


class CaseRetrievalIn(_In):
    """A retrieval request filed under the case (its reason is the case's)."""

    camera_id: str = Field(max_length=20)
    start: datetime
    end: datetime
    kind: Literal["view", "export"] = "view"


class RetrievalPublic(_Out):
    """A retrieval request as filed."""

    id: int
    camera_id: str
    start: datetime
    end: datetime
    kind: str
    reason: str
    state: str


class RoutedAlarmPublic(_Out):
    """An active alarm routed to the caller's duty."""

    id: int
    camera_id: str
    region_code: str
    kind: str
    severity: str
    raised_at: datetime
    acknowledged_by: str

