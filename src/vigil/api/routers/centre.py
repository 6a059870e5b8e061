"""The monitoring centre: shifts and duty, handovers, escalations, patrol rounds, incidents, case files, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.access.users import Principal
from vigil.api.contract import media
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.public.misc import PerformancePublic, SignOffPublic
from vigil.centre import cases, duty, perf, rounds, traffic
from vigil.centre.models import Incident, PatrolRound, RoundRun
from vigil.centre.schemas import (
    CaseDetail,
    CaseExportPublic,
    CaseIn,
    CasePublic,
    CaseRetrievalIn,
    DutyPublic,
    EscalationPublic,
    HandoverIn,
    HandoverPublic,
    IncidentIn,
    IncidentPatch,
    IncidentPublic,
    ItemIn,
    LinkIn,
    QueueLengthsPublic,
    RetrievalPublic,
    RoundIn,
    RoundPublic,
    RoutedAlarmPublic,
    RunDetail,
    RunPublic,
    ShiftIn,
    ShiftPublic,
    SignOnIn,
    TrafficPublic,
    ViewIn,
    ViewPublic,
)
from vigil.core.errors import InputError
from vigil.core.models import Camera, utcnow

router = APIRouter()

Read = Annotated[Principal, Depends(require("centre.read"))]
Duty = Annotated[Principal, Depends(require("centre.duty"))]
Lead = Annotated[Principal, Depends(require("centre.lead"))]
Case = Annotated[Principal, Depends(require("centre.case"))]


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


@router.post("/duty/off", response_model=SignOffPublic)
def sign_off(p: Duty, session: SessionDep) -> dict[str, int]:
    """Sign the caller off."""
    return {"signed_off": duty.sign_off(session, user=p.name)}


@router.get("/alarms")
def my_alarms(p: Read, session: SessionDep) -> list[RoutedAlarmPublic]:
    """Active alarms routed to the caller (the centres they are signed on for), oldest first."""
    return [RoutedAlarmPublic.model_validate(a) for a in duty.routed_alarms(session, user=p.name, scope=p.scope)]


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
    run = rounds.start_run(session, round_id, officer=p.name, scope=p.scope, tz=duty.centre_zone(v.settings))
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


@router.post("/cases/{case_id}/retrievals", status_code=201)
def case_retrieval(case_id: int, body: CaseRetrievalIn, p: Case, session: SessionDep) -> RetrievalPublic:
    """File a retrieval request under the case, carrying the case's reason."""
    return RetrievalPublic.model_validate(cases.request_for_case(session, case_id, p, **body.model_dump()))


@router.post("/cases/{case_id}/export", status_code=201)
def export_case(case_id: int, p: Case, session: SessionDep, v: VigilDep) -> CaseExportPublic:
    """Write the case's package with its chain of custody."""
    ex = cases.export_case(session, case_id, exports_dir=v.settings.exports_dir, actor=p.name, scope=p.scope)
    return CaseExportPublic.model_validate(ex)


# ----------------------------------------------------------------------------- performance
def _perf(p: Principal, session: SessionDep, v: VigilDep, month: str | None,
          region: str | None) -> tuple[perf.Performance, str, str]:
    tz = duty.centre_zone(v.settings)
    month = month or utcnow().astimezone(tz).strftime("%Y-%m")
    start, end = perf.month_range(month, tz)
    code = _region(p, region)
    return perf.summarise(perf.gather(session, scope=p.scope.narrowed(code), start=start, end=end), tz), month, code


@router.get("/performance", response_model=PerformancePublic)
def performance(p: Read, session: SessionDep, v: VigilDep, month: str | None = None,
                region: str | None = None) -> dict[str, Any]:
    """Rounds, alarms, incidents and repair times per person, team, shift and contractor for a month."""
    result, month, code = _perf(p, session, v, month, region)
    return {"month": month, "region": code, **result.as_dict()}


@router.get("/report", response_model=None, response_class=Response,
            responses=media("text/html", "application/pdf", description="the monthly report"))
def monthly_report(p: Read, session: SessionDep, v: VigilDep, month: str | None = None, region: str | None = None,
                   lang: Literal["zh", "en"] = "zh", format: Literal["html", "pdf"] = "html") -> Response:
    """The monthly report as HTML or PDF, in Chinese or English, for a region the caller sees."""
    result, month, code = _perf(p, session, v, month, region)
    if format == "pdf":
        pdf = perf.report_pdf(result, month=month, region=code, lang=lang)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="centre-{code}-{month}.pdf"'})
    return HTMLResponse(perf.report_html(result, month=month, region=code, lang=lang))


@router.get("/traffic")
def traffic_counts(p: Read, session: SessionDep, start: str | None = None, end: str | None = None,
                   step_minutes: Annotated[int, Query(ge=5, le=1440)] = 60, camera: str | None = None,
                   region: str | None = None) -> TrafficPublic:
    """Per-lane vehicle counts from line crossings (default: the last 24 hours, per hour)."""
    t0, t1 = _period(start, end)
    series = traffic.traffic_counts(session, scope=p.scope, start=t0, end=t1, step=timedelta(minutes=step_minutes),
                                    camera=camera, region=region)
    return TrafficPublic.model_validate(series.as_dict())


@router.get("/traffic/queues")
def traffic_queues(p: Read, session: SessionDep, start: str | None = None, end: str | None = None,
                   step_minutes: Annotated[int, Query(ge=1, le=1440)] = 60, camera: str | None = None,
                   region: str | None = None) -> QueueLengthsPublic:
    """The longest queue per lane zone and road node (default: the last 24 hours, per hour)."""
    t0, t1 = _period(start, end)
    series = traffic.queue_lengths(session, scope=p.scope, start=t0, end=t1, step=timedelta(minutes=step_minutes),
                                   camera=camera, region=region)
    return QueueLengthsPublic.model_validate(series.as_dict())


def _period(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The asked period, by default the 24 hours up to now."""
    t1 = _time(end) or utcnow()
    return _time(start) or t1 - timedelta(days=1), t1


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"time {text!r} is not ISO 8601") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)

