"""The monitoring centre's part of the scope matrix: its objects per area, path factories and bodies.

Importing this registers a seeder with :mod:`scopekit` and the ``MISSING`` IDs of the centre's path
parameters; :mod:`matrixkit` merges :data:`PATH`, :data:`BODIES` and :data:`UNSCOPED_BODIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from scopekit import AREAS, MISSING, SEEDERS, T0, TAG, Ctx

from vigil.analytics.models import Event
from vigil.centre.models import CaseFile, DutySession, Handover, Incident, PatrolRound, RoundRun, ShiftDef
from vigil.core.models import utcnow


def _add(ctx: Ctx, obj: Any) -> str:
    with ctx.v.db.session() as s:
        s.add(obj)
        s.flush()
        return str(obj.id)


def fresh_handover(ctx: Ctx, area: str) -> str:
    """An unacknowledged handover written by the area's duty officer (so an admin may acknowledge it)."""
    return _add(ctx, Handover(shift_id=int(ctx.objs[area]["shift_id"]), region_code=AREAS[area][0],
                              outgoing=f"duty_officer-{AREAS[area][0]}", written_at=T0,
                              notes=f"{TAG[area]} handover", items={}))


def fresh_run(ctx: Ctx, area: str) -> str:
    """A running run of the area's round."""
    return _add(ctx, RoundRun(round_id=int(ctx.objs[area]["round_id"]), region_code=AREAS[area][0],
                              officer=f"duty_officer-{AREAS[area][0]}", started_at=T0, state="running"))


def seed(ctx: Ctx) -> None:
    """A shift, a handover, a round with a run, an incident and a case per area."""
    for area, (town, village) in AREAS.items():
        o = ctx.objs[area]
        o["shift_id"] = _add(ctx, ShiftDef(region_code=town, team=f"{TAG[area]} team", name=f"{TAG[area]} day",
                                           start_minute=480, hours=8))
        o["handover_id"] = fresh_handover(ctx, area)
        o["round_id"] = _add(ctx, PatrolRound(region_code=town, name=f"{TAG[area]} round",
                                              cameras=[{"camera_id": o["camera_id"], "preset": ""}], hours=[9]))
        o["run_id"] = fresh_run(ctx, area)
        o["incident_id"] = _add(ctx, Incident(region_code=town, title=f"{TAG[area]} incident",
                                              created_by=f"duty_officer-{town}"))
        cam = ctx.objs[area]["camera_id"]
        _add(ctx, Event(uid=str(uuid4()), camera_id=cam, region_code=village, type="line_crossing", label="car",
                        start=utcnow() - timedelta(hours=1), zone=f"{TAG[area]} lane", direction="forward",
                        box=[0, 0, 1, 1], score=0.9))
        o["case_id"] = _add(ctx, CaseFile(number=f"{TAG[area]}-case", region_code=town, title=f"{TAG[area]} case",
                                          reason=f"{TAG[area]} reason", created_by=f"investigator-{town}"))


    # town A's duty officer signed on (by a bad hand) to town B's shift: B's alarms must still stay hidden
    _add(ctx, DutySession(shift_id=int(ctx.objs["B"]["shift_id"]), region_code=AREAS["B"][0],
                          user_name=f"duty_officer-{AREAS['A'][0]}", on_at=T0))


SEEDERS.append(seed)
MISSING.update(dict.fromkeys(("handover_id", "round_id", "run_id", "incident_id", "case_id"), "987654"))

_RUN_WRITES = ("/views", "/finish")


def _run_id(ctx: Ctx, area: str, path: str, fresh: bool) -> str:
    return fresh_run(ctx, area) if fresh and path.endswith(_RUN_WRITES) else ctx.objs[area]["run_id"]


PATH: dict[str, Callable[[Ctx, str, str, bool], str]] = {
    "handover_id": lambda c, a, p, f: fresh_handover(c, a) if f else c.objs[a]["handover_id"],
    "round_id": lambda c, a, p, f: c.objs[a]["round_id"],
    "run_id": _run_id,
    "incident_id": lambda c, a, p, f: c.objs[a]["incident_id"],
    "case_id": lambda c, a, p, f: c.objs[a]["case_id"],
}


def _bodies(make: Callable[[Ctx, str], list[dict[str, Any]]]) -> Callable[[Ctx, str], list[Any]]:
    def build(c: Ctx, a: str) -> list[Any]:
        from matrixkit import Body  # matrixkit imports this module: a real cycle

        return [Body(json=j) for j in make(c, a)]
    return build


def _round(c: Ctx, a: str) -> list[dict[str, Any]]:
    def body(region_area: str, cam_area: str) -> dict[str, Any]:
        return {"region_code": AREAS[region_area][0], "name": f"{TAG[a]} round {c.n()}",
                "cameras": [{"camera_id": c.objs[cam_area]["camera_id"]}], "hours": [9]}
    return [body("A", "A")] if a == "A" else [body("B", "B"), body("A", "B")]


def _item(c: Ctx, a: str) -> list[dict[str, Any]]:
    if a == "A":
        return [{"kind": "event", "ref": c.objs[a]["event_id"]}]
    return [{"kind": "event", "ref": c.objs[a]["event_id"]}, {"kind": "alarm", "ref": c.objs[a]["alarm_id"]},
            {"kind": "clip", "ref": c.objs[a]["request_id"]}, {"kind": "snapshot", "ref": c.objs[a]["camera_id"]}]


def _link(c: Ctx, a: str) -> list[dict[str, Any]]:
    if a == "A":
        return [{"incident_id": int(c.objs[a]["incident_id"])}]
    return [{"incident_id": int(c.objs[a]["incident_id"])}, {"request_id": int(c.objs[a]["request_id"])}]


_JSON: dict[str, Callable[[Ctx, str], list[dict[str, Any]]]] = {
    "ShiftIn": lambda c, a: [{"region_code": AREAS[a][0], "name": f"{TAG[a]} night {c.n()}", "start": "20:00"}],
    "SignOnIn": lambda c, a: [{"shift_id": int(c.objs[a]["shift_id"])}],
    "HandoverIn": lambda c, a: [{"shift_id": int(c.objs[a]["shift_id"]), "notes": "quiet"}],
    "RoundIn": _round,
    "ViewIn": lambda c, a: [{"camera_id": c.objs[a]["camera_id"], "status": "normal"}],
    "IncidentIn": lambda c, a: [{"region_code": AREAS[a][1], "title": f"{TAG[a]} incident {c.n()}"}],
    "IncidentPatch": lambda c, a: [{"status": "investigating"}],
    "ItemIn": _item,
    "CaseIn": lambda c, a: [{"number": f"{TAG[a]}-{c.n()}", "region_code": AREAS[a][0], "title": "case",
                             "reason": f"{TAG[a]} burglary"}],
    "LinkIn": _link,
    "CaseRetrievalIn": lambda c, a: [{"camera_id": c.objs[a]["camera_id"], "start": "2026-01-01T08:00:00Z",
                                      "end": "2026-01-01T08:01:00Z"}],
}
BODIES = {name: _bodies(make) for name, make in _JSON.items()}
UNSCOPED_BODIES = {"IncidentPatch"}
