"""The world of the scope matrix: two towns full of objects, and factories for valid requests.

Town A (``TOWN1``) is the caller's; town B (``TOWN2``) is the other town. Every object of town B
carries ``ZEBRA-B`` in its name or an ID that starts with ``TOWN2``, so a response that shows any of
them to a town-A user is caught by a plain substring search (:data:`MARKERS`).

Factories build objects *of an area* ("A" or "B"): the same factory gives the in-scope control
request and the out-of-scope attack, so the attack is as valid as a request that succeeds.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from factories import CITY, TOWN1, TOWN2, VILLAGE1, VILLAGE2, World, build_world
from vigil.access.users import add_user, issue_token
from vigil.analytics.models import AnalyticsSetting, Event
from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, CameraModel, Region, Site, User
from vigil.coverage.models import PlanRecord
from vigil.health.models import Alarm, CameraStatus, MaintenanceTeam, StatusChange, WorkOrder
from vigil.video.models import Export, PrivacyMask, RecordingSegment, RetrievalRequest

AREAS = {"A": (TOWN1, VILLAGE1), "B": (TOWN2, VILLAGE2)}
TAG = {"A": "alpha-A", "B": "ZEBRA-B"}
#: Strings that belong to town B only: none may reach a town-A user unless the request itself held it.
MARKERS = ("ZEBRA-B", TOWN2, "secret2")
#: A sibling village of the caller's village, inside town A (for a village-scoped admin).
VILLAGE1B = "53018101202"
ROLES = ("admin", "duty_officer", "maintenance", "auditor", "planner", "investigator")
T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
#: IDs that exist nowhere: an out-of-scope object must answer exactly like these.
MISSING = {"code": "53018109", "site_id": "987654", "camera_id": generate_device_id("53018109201", 7).value,
           "user_id": "987654", "request_id": "987654", "export_id": "987654", "event_id": "987654",
           "plan_id": "987654", "alarm_id": "987654", "order_id": "987654", "region": "53018109",
           "camera": generate_device_id("53018109201", 7).value, "site": "987654", "team": "987654",
           "root": "53018109", "parent": "53018109"}


def plan_area(lon: float, lat: float) -> bytes:
    """A tiny planning area: two square buildings near ``(lon, lat)``, as GeoJSON."""
    feats = []
    for i, dx in enumerate((0.0, 0.0004)):
        x, y, s = lon - 0.0003 + dx, lat + 0.0002, 0.00015
        ring = [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]
        feats.append({"type": "Feature", "properties": {"building": "yes", "levels": 2, "name": f"b{i}"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


@dataclass
class Ctx:
    """The built world: the instance, tokens and the seeded objects per area."""

    v: Vigil
    w: World
    objs: dict[str, dict[str, Any]] = field(default_factory=dict)  # area -> name -> id
    counter: itertools.count = field(default_factory=lambda: itertools.count(100))

    def token(self, role: str, town: str = TOWN1) -> dict[str, str]:
        key = town if role == "admin" else f"{role}-{town}"
        return {"Authorization": f"Bearer {self.w.tokens[key]}"}

    def n(self) -> int:
        return next(self.counter)

    # ------------------------------------------------------------------ fresh objects (for writes)
    def fresh_camera(self, area: str) -> str:
        """A planned camera (planners may change planned cameras, so they too must meet the scope)."""
        town, village = AREAS[area]
        with self.v.db.session() as s:
            cam = Camera(id=generate_device_id(village, self.n()).value, name=f"{TAG[area]} cam {self.n()}",
                         region_code=village, site_id=self.objs[area]["site_id"], lon=self.objs[area]["lon"],
                         lat=25.0, lifecycle="planned", main_url=f"rtsp://127.0.0.1:9/{area}")
            s.add(cam)
            return cam.id

    def fresh_site(self, area: str) -> str:
        with self.v.db.session() as s:
            site = Site(name=f"{TAG[area]} site {self.n()}", kind="residential", region_code=AREAS[area][1],
                        lon=self.objs[area]["lon"], lat=25.0)
            s.add(site)
            s.flush()
            return str(site.id)

    def fresh_region(self, area: str) -> str:
        code = f"{AREAS[area][0]}{self.n():03d}"
        with self.v.db.session() as s:
            s.add(Region(code=code, name=f"{TAG[area]} village {code}", level=4, parent_code=AREAS[area][0]))
        return code

    def fresh_user(self, area: str) -> str:
        with self.v.db.session() as s:
            u = add_user(s, f"{TAG[area]}-user-{self.n()}", "a-long-password", "duty_officer", [AREAS[area][0]])
            return str(u.id)

    def fresh_alarm(self, area: str, order_state: str = "open") -> tuple[str, str]:
        """An active alarm and its work order (``order_state``) on the area's camera."""
        cam = self.objs[area]["camera_id"]
        with self.v.db.session() as s:
            a = Alarm(camera_id=cam, region_code=AREAS[area][1], kind="offline", state="active", raised_at=T0)
            s.add(a)
            s.flush()
            wo = WorkOrder(alarm_id=a.id, camera_id=cam, region_code=AREAS[area][1], state=order_state, opened_at=T0,
                           due_at=T0 + timedelta(hours=24), history=[])
            s.add(wo)
            s.flush()
            return str(a.id), str(wo.id)

    def fresh_request(self, area: str, state: str = "pending") -> str:
        """A retrieval request by the area's investigator (so an admin is a second person)."""
        with self.v.db.session() as s:
            r = RetrievalRequest(requester=f"investigator-{AREAS[area][0]}", camera_id=self.objs[area]["camera_id"],
                                 start=T0, end=T0 + timedelta(minutes=1), kind="export",
                                 reason=f"{TAG[area]} reason", needs_approval=True, state=state,
                                 approver=f"duty_officer-{AREAS[area][0]}" if state == "approved" else None)
            s.add(r)
            s.flush()
            return str(r.id)

    def fresh_plan(self, area: str) -> str:
        """A stored plan with its files, ready to be applied."""
        out = Path(self.v.settings.home) / "test-plans" / f"{area}-{self.n()}"
        out.mkdir(parents=True)
        lon = self.objs[area]["lon"]
        new = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, 25.0]},
               "properties": {"status": "new", "id": "c1", "height_m": 4.0, "heading_deg": 0.0, "tilt_deg": 15.0,
                              "model": "Bullet-4MP", "h_res_px": 2560, "v_res_px": 1440, "hfov_deg": 90}}
        (out / "plan.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [new]}))
        summary = {"name": f"{TAG[area]} plan", "level": "observe", "cameras_new": 1}
        (out / "summary.json").write_text(json.dumps(summary))
        with self.v.db.session() as s:
            rec = PlanRecord(name=f"{TAG[area]} plan", region_code=AREAS[area][1], out_dir=str(out),
                             level="observe", summary=summary, created_by=f"planner-{AREAS[area][0]}")
            s.add(rec)
            s.flush()
            return str(rec.id)


def _seed_area(ctx: Ctx, area: str) -> None:
    """Every kind of object the API serves, in ``area``, with files where a route serves files."""
    v, w = ctx.v, ctx.w
    town, village = AREAS[area]
    home = Path(v.settings.home)
    o = ctx.objs[area] = {"camera_id": w.cameras[town], "site_id": w.sites[town], "code": town,
                          "lon": 102.7 + (1 if area == "A" else 2) / 100}
    with v.db.session() as s:
        cam = s.get(Camera, o["camera_id"])
        cam.name = f"{TAG[area]} gate"
        s.get(Site, o["site_id"]).name = f"{TAG[area]} community"
        s.get(Region, village).name = f"{TAG[area]} village"
        # camera models are a shared catalog everyone may read: no marker in the name
        model = CameraModel(name=f"model used in {area}", h_res_px=1920, v_res_px=1080, hfov_deg=80, vfov_deg=45)
        s.add(model)
        s.flush()
        cam.model_id = model.id
        o["model"] = model.name
        s.add(CameraStatus(camera_id=cam.id, state="down", reason="refused", since=T0))
        s.add(StatusChange(camera_id=cam.id, ts=T0, state="down", reason="refused"))
        s.add(MaintenanceTeam(name=f"{TAG[area]} team", region_code=town))
        s.add(AnalyticsSetting(camera_id=cam.id, enabled=True, zones={"zones": []}, updated_by="seed"))
        s.add(PrivacyMask(camera_id=cam.id, name=f"{TAG[area]} mask", polygon=[[0, 0], [0.5, 0], [0.5, 0.5]]))
        snap = home / "snapshots" / f"{area}.jpg"
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_bytes(b"\xff\xd8\xff\xe0" + TAG[area].encode() + b"\xff\xd9")
        ev = Event(uid=str(uuid4()), camera_id=cam.id, region_code=village, type="object", label="person",
                   start=T0, box=[0, 0, 1, 1], score=0.9, snapshot_path=str(snap), zone=f"{TAG[area]} zone")
        seg = home / "recordings" / area / "seg.ts"
        seg.parent.mkdir(parents=True, exist_ok=True)
        seg.write_bytes(b"\x47" * 188)
        s.add_all([ev, RecordingSegment(camera_id=cam.id, path=str(seg), start=T0, end=T0 + timedelta(minutes=1),
                                        bytes=188)])
        s.flush()
        o["event_id"] = str(ev.id)
    o["request_id"] = ctx.fresh_request(area, state="approved")
    exp_dir = home / "exports" / f"test-{area}"
    exp_dir.mkdir(parents=True, exist_ok=True)
    clip = f"{TAG[area]}.mp4"
    for name in (clip, "manifest.json", "manifest.sig"):
        (exp_dir / name).write_text(f"{TAG[area]} {name}")
    with v.db.session() as s:
        e = Export(request_id=int(o["request_id"]), path=str(exp_dir), manifest={"files": [{"name": clip}]},
                   signature="", created_by=f"investigator-{town}")
        s.add(e)
        s.flush()
        o["export_id"] = str(e.id)
    o["alarm_id"], o["order_id"] = ctx.fresh_alarm(area)
    o["plan_id"] = ctx.fresh_plan(area)
    o["user_id"] = str(w.users[town])


#: More seeders, each ``seed(ctx)`` after the base world is built (capability kits add theirs on import).
SEEDERS: list[Callable[[Ctx], None]] = []


def build_matrix_world(v: Vigil) -> Ctx:
    """The two-town world of :func:`factories.build_world`, filled with every kind of object."""
    ctx = Ctx(v, build_world(v))
    for area in AREAS:
        _seed_area(ctx, area)
    with v.db.session() as s:
        s.add(Region(code=VILLAGE1B, name="alpha-A sibling village", level=4, parent_code=TOWN1))
        s.flush()
        cam = Camera(id=generate_device_id(VILLAGE1B, 77).value, name="alpha-A sibling gate", region_code=VILLAGE1B,
                     lon=102.715, lat=25.0, lifecycle="in_service", main_url="rtsp://127.0.0.1:9/sibling")
        s.add(cam)
        u = add_user(s, "admin-village1", "a-long-password", "admin", [VILLAGE1])
        ctx.w.tokens["admin-village1"] = issue_token(s, u)
        ctx.objs["sibling"] = {"camera_id": cam.id, "code": VILLAGE1B}
        assert s.get(Region, CITY) is not None and s.get(User, u.id) is not None
    for seed in SEEDERS:
        seed(ctx)
    return ctx
