"""The monitoring centre: shifts and duty, handovers, escalations, patrol rounds, incidents, case files, reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.access.users import Principal
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.centre import cases, duty, perf, rounds
from vigil.centre.models import Incident, PatrolRound, RoundRun
from vigil.core.models import Camera, utcnow

router = APIRouter()

Read = Annotated[Principal, Depends(require("centre.read"))]
Duty = Annotated[Principal, Depends(require("centre.duty"))]
Lead = Annotated[Principal, Depends(require("centre.lead"))]
Case = Annotated[Principal, Depends(require("centre.case"))]


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


def _region(p: Principal, region: str | None) -> str:
    code = region or min(p.scope.roots() or ("",), key=lambda s: (len(s), s))
    ensure_visible(p, code, f"region {code}")
    return code


def _scope(p: Principal, region: str | None) -> Scope:
    return p.scope.narrowed(_region(p, region)) if region else p.scope


# ----------------------------------------------------------------------------- shifts and duty
@router.get("/shifts")
def list_shifts(p: Read, session: SessionDep, region: str | None = None) -> list[ShiftPublic]:
    """Shift definitions of the centres the caller sees."""
    return [ShiftPublic.model_validate(s) for s in duty.list_shifts(session, scope=_scope(p, region))]


@router.post("/shifts", status_code=201)
def define_shift(body: ShiftIn, p: Lead, session: SessionDep) -> ShiftPublic:
    """Define a shift."""
    return ShiftPublic.model_validate(duty.define_shift(session, **body.model_dump(), scope=p.scope, actor=p.name))


@router.get("/duty")
def on_duty(p: Read, session: SessionDep) -> list[DutyPublic]:
    """Who is signed on now."""
    return [DutyPublic.model_validate(d) for d in duty.on_duty(session, scope=p.scope)]


@router.post("/duty/on")
def sign_on(body: SignOnIn, p: Duty, session: SessionDep) -> DutyPublic:
    """Sign the caller on to a shift."""
    return DutyPublic.model_validate(duty.sign_on(session, body.shift_id, user=p.name, leader=body.leader,
                                                  scope=p.scope))


@router.post("/duty/off")
def sign_off(p: Duty, session: SessionDep) -> dict[str, int]:
    """Sign the caller off."""
    return {"signed_off": duty.sign_off(session, user=p.name)}


@router.get("/handovers")
def list_handovers(p: Read, session: SessionDep) -> list[HandoverPublic]:
    """Handovers, newest first."""
    return [HandoverPublic.model_validate(h) for h in duty.list_handovers(session, scope=p.scope)]


@router.post("/handovers", status_code=201)
def write_handover(body: HandoverIn, p: Duty, session: SessionDep) -> HandoverPublic:
    """The outgoing officer writes the handover."""
    return HandoverPublic.model_validate(duty.write_handover(session, body.shift_id, outgoing=p.name,
                                                             notes=body.notes, scope=p.scope))


@router.post("/handovers/{handover_id}/ack")
def ack_handover(handover_id: int, p: Duty, session: SessionDep) -> HandoverPublic:
    """The incoming officer acknowledges it."""
    return HandoverPublic.model_validate(duty.ack_handover(session, handover_id, incoming=p.name, scope=p.scope))


@router.get("/escalations")
def list_escalations(p: Read, session: SessionDep) -> list[EscalationPublic]:
    """Alarms escalated to shift leaders, newest first."""
    return [EscalationPublic.model_validate(e) for e in duty.list_escalations(session, scope=p.scope)]


# ----------------------------------------------------------------------------- patrol rounds
@router.get("/rounds")
def list_rounds(p: Read, session: SessionDep) -> list[RoundPublic]:
    """Patrol rounds."""
    return [RoundPublic.model_validate(r) for r in rounds.list_rounds(session, scope=p.scope)]


@router.post("/rounds", status_code=201)
def create_round(body: RoundIn, p: Lead, session: SessionDep) -> RoundPublic:
    """Define a patrol round."""
    data = body.model_dump()
    return RoundPublic.model_validate(rounds.create_round(session, **data, scope=p.scope, actor=p.name))


@router.post("/rounds/{round_id}/runs", status_code=201)
def start_run(round_id: int, p: Duty, session: SessionDep, v: VigilDep) -> RunDetail:
    """Start a run of a round (late when past its slot's grace time)."""
    run = rounds.start_run(session, round_id, officer=p.name, scope=p.scope, tz=duty.centre_zone(v.settings.extra))
    return _run_detail(session, run, p)


def _run_detail(session: SessionDep, run: RoundRun, p: Principal) -> RunDetail:
    r = get_in_scope(session, PatrolRound, run.round_id, p, what=f"round {run.round_id}")
    names = {c["camera_id"]: cam.name for c in r.cameras
             if (cam := session.get(Camera, c["camera_id"])) is not None and p.scope.covers(cam.region_code)}
    return RunDetail.model_validate({**RunPublic.model_validate(run).model_dump(),
                                     "round": RoundPublic.model_validate(r), "camera_names": names,
                                     "views": [ViewPublic.model_validate(x) for x in rounds.run_views(session, run.id)]})


@router.get("/runs/{run_id}")
def get_run(run_id: int, p: Read, session: SessionDep) -> RunDetail:
    """A run with its round and the views marked so far."""
    return _run_detail(session, get_in_scope(session, RoundRun, run_id, p, what=f"run {run_id}"), p)


@router.post("/runs/{run_id}/views", status_code=201)
def mark_view(run_id: int, body: ViewIn, p: Duty, session: SessionDep) -> ViewPublic:
    """Mark one camera of the run."""
    return ViewPublic.model_validate(rounds.mark_view(session, run_id, **body.model_dump(), actor=p.name,
                                                      scope=p.scope))


@router.post("/runs/{run_id}/finish")
def finish_run(run_id: int, p: Duty, session: SessionDep) -> RunPublic:
    """Finish the run."""
    return RunPublic.model_validate(rounds.finish_run(session, run_id, actor=p.name, scope=p.scope))


# ----------------------------------------------------------------------------- incidents and cases
@router.get("/incidents")
def list_incidents(p: Read, session: SessionDep, region: str | None = None) -> list[IncidentPublic]:
    """Incidents, newest first."""
    return [IncidentPublic.model_validate(cases.incident_json(session, i))
            for i in cases.list_incidents(session, scope=p.scope, region=region)]


@router.post("/incidents", status_code=201)
def create_incident(body: IncidentIn, p: Duty, session: SessionDep) -> IncidentPublic:
    """Open an incident."""
    inc = cases.create_incident(session, **body.model_dump(), actor=p.name, scope=p.scope)
    return IncidentPublic.model_validate(cases.incident_json(session, inc))


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: int, p: Read, session: SessionDep) -> IncidentPublic:
    """An incident with its timeline."""
    inc = get_in_scope(session, Incident, incident_id, p, what=f"incident {incident_id}")
    return IncidentPublic.model_validate(cases.incident_json(session, inc))


@router.patch("/incidents/{incident_id}")
def update_incident(incident_id: int, body: IncidentPatch, p: Duty, session: SessionDep) -> IncidentPublic:
    """Change an incident's status or assignee."""
    inc = cases.update_incident(session, incident_id, **body.model_dump(), actor=p.name, scope=p.scope)
    return IncidentPublic.model_validate(cases.incident_json(session, inc))


@router.post("/incidents/{incident_id}/items", status_code=201)
def add_item(incident_id: int, body: ItemIn, p: Duty, session: SessionDep) -> IncidentPublic:
    """Add an entry to an incident's timeline."""
    cases.add_item(session, incident_id, **body.model_dump(), actor=p.name, scope=p.scope)
    inc = get_in_scope(session, Incident, incident_id, p, what=f"incident {incident_id}")
    return IncidentPublic.model_validate(cases.incident_json(session, inc))


@router.get("/cases")
def list_cases(p: Case, session: SessionDep) -> list[CasePublic]:
    """Case files."""
    return [CasePublic.model_validate(c) for c in cases.list_cases(session, scope=p.scope)]


@router.post("/cases", status_code=201)
def create_case(body: CaseIn, p: Case, session: SessionDep) -> CasePublic:
    """Open a case file."""
    return CasePublic.model_validate(cases.create_case(session, **body.model_dump(), actor=p.name, scope=p.scope))


@router.get("/cases/{case_id}")
def get_case(case_id: int, p: Case, session: SessionDep) -> CaseDetail:
    """A case file (the view is audited with the case's reason)."""
    return CaseDetail.model_validate(cases.view_case(session, case_id, actor=p.name, scope=p.scope))


@router.post("/cases/{case_id}/links")
def link_case(case_id: int, body: LinkIn, p: Case, session: SessionDep) -> CasePublic:
    """File an incident or a retrieval request under the case."""
    return CasePublic.model_validate(cases.link_to_case(session, case_id, **body.model_dump(), actor=p.name,
                                                        scope=p.scope))


@router.post("/cases/{case_id}/export", status_code=201)
def export_case(case_id: int, p: Case, session: SessionDep, v: VigilDep) -> CaseExportPublic:
    """Write the case's package with its chain of custody."""
    ex = cases.export_case(session, case_id, exports_dir=v.settings.exports_dir, actor=p.name, scope=p.scope)
    return CaseExportPublic.model_validate(ex)


# ----------------------------------------------------------------------------- performance
def _perf(p: Principal, session: SessionDep, v: VigilDep, month: str | None,
          region: str | None) -> tuple[perf.Performance, str, str]:
    tz = duty.centre_zone(v.settings.extra)
    month = month or utcnow().astimezone(tz).strftime("%Y-%m")
    start, end = perf.month_range(month, tz)
    code = _region(p, region)
    return perf.summarise(perf.gather(session, scope=p.scope.narrowed(code), start=start, end=end), tz), month, code


@router.get("/performance")
def performance(p: Read, session: SessionDep, v: VigilDep, month: str | None = None,
                region: str | None = None) -> dict[str, Any]:
    """Rounds, alarms, incidents and repair times per person, team, shift and contractor for a month."""
    result, month, code = _perf(p, session, v, month, region)
    return {"month": month, "region": code, **result.as_dict()}


@router.get("/report", response_model=None)
def monthly_report(p: Read, session: SessionDep, v: VigilDep, month: str | None = None, region: str | None = None,
                   lang: Literal["zh", "en"] = "zh", format: Literal["html", "pdf"] = "html") -> Response:
    """The monthly report as HTML or PDF, in Chinese or English, for a region the caller sees."""
    result, month, code = _perf(p, session, v, month, region)
    if format == "pdf":
        pdf = perf.report_pdf(result, month=month, region=code, lang=lang)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="centre-{code}-{month}.pdf"'})
    return HTMLResponse(perf.report_html(result, month=month, region=code, lang=lang))


