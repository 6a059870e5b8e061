"""Request factories of the scope matrix: one per path parameter, request body schema and query parameter.

Each factory builds the part of a *valid* request that names an object of an area ("A": the caller's
town, "B": another town). The same factory gives the control request (area A, which must succeed) and
the attack (area B, which must answer 404), so an attack cannot fail for any reason but scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import centrekit
import channelscopekit
import citykit
import gbscopekit
import jobscopekit
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from scopekit import AREAS, MISSING, TAG, Ctx, plan_area

from vigil.video.models import WallLayout

# ----------------------------------------------------------------------------- path parameters
_PENDING_ROUTES = ("/approve", "/deny")


def _request_id(ctx: Ctx, area: str, path: str, fresh: bool) -> str:
    if not fresh:
        return ctx.objs[area]["request_id"]
    return ctx.fresh_request(area, state="pending" if path.endswith(_PENDING_ROUTES) else "approved")


#: The state a work order must be in for a transition route to accept it.
_ORDER_STATE = {"resolve": "in_progress", "verify": "resolved"}


def _order_id(ctx: Ctx, area: str, path: str, fresh: bool) -> str:
    if not fresh:
        return ctx.objs[area]["order_id"]
    return ctx.fresh_alarm(area, _ORDER_STATE.get(path.rsplit("/", 1)[1], "open"))[1]


def _wall_id(ctx: Ctx, area: str, path: str, fresh: bool) -> str:
    """A fresh wall layout of the area's admin (a layout belongs to its user: another user's is 404)."""
    with ctx.v.db.session() as s:
        row = WallLayout(user_id=ctx.w.users[AREAS[area][0]], name=f"{TAG[area]} wall {ctx.n()}", size=4,
                         cameras=[ctx.objs[area]["camera_id"]], cycle_s=0)
        s.add(row)
        s.flush()
        return str(row.id)


PathFactory = Callable[[Ctx, str, str, bool], str]
#: name -> factory(ctx, area, route path, fresh). ``fresh`` (every write) builds a new object of the area,
#: so a write that succeeds by mistake cannot spoil the next route's world.
PATH: dict[str, PathFactory] = {
    "code": lambda c, a, p, f: c.fresh_region(a) if f else c.objs[a]["code"],
    "site_id": lambda c, a, p, f: c.fresh_site(a) if f else str(c.objs[a]["site_id"]),
    "camera_id": lambda c, a, p, f: c.fresh_camera(a) if f else c.objs[a]["camera_id"],
    "user_id": lambda c, a, p, f: c.fresh_user(a) if f else c.objs[a]["user_id"],
    "request_id": _request_id,
    "export_id": lambda c, a, p, f: c.objs[a]["export_id"],
    "event_id": lambda c, a, p, f: c.objs[a]["event_id"],
    "plan_id": lambda c, a, p, f: c.fresh_plan(a) if f else c.objs[a]["plan_id"],
    "alarm_id": lambda c, a, p, f: c.fresh_alarm(a)[0] if f else c.objs[a]["alarm_id"],
    "order_id": _order_id,
    "wall_id": _wall_id,
}
#: Path parameters that name no object (the object is named by the other parameters).
UNSCOPED_PATH = {"segment": "seg00001.ts", "name": "summary.json"}


# ----------------------------------------------------------------------------- bodies
@dataclass(frozen=True)
class Body:
    """A request body: JSON, or form fields with files."""

    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


def _csv(text: str, name: str = "upload.csv") -> Body:
    return Body(files={"file": (name, text.encode(), "text/csv")})


def _camera_in(c: Ctx, a: str) -> list[Body]:
    def body(region_area: str, site_area: str) -> Body:
        return Body(json={"name": f"{TAG[region_area]} new cam {c.n()}", "region_code": AREAS[region_area][1],
                          "site_id": c.objs[site_area]["site_id"], "lon": c.objs[region_area]["lon"], "lat": 25.0,
                          "lifecycle": "planned"})
    # an attack names another town's region, or pulls another town's site into one's own camera
    return [body("A", "A")] if a == "A" else [body("B", "B"), body("A", "B")]


def _user_in(c: Ctx, a: str) -> list[Body]:
    def body(regions: list[str]) -> Body:
        return Body(json={"name": f"{TAG[a]}-new-user-{c.n()}", "role": "duty_officer", "regions": regions})
    return [body([AREAS["A"][0]])] if a == "A" else [body([AREAS["B"][0]]), body([AREAS["A"][0], AREAS["B"][0]])]


def _user_patch(c: Ctx, a: str) -> list[Body]:
    if a == "A":
        return [Body(json={"team": "night shift"})]
    return [Body(json={"regions": [AREAS["B"][0]]}), Body(json={"regions": [AREAS["A"][0], AREAS["B"][0]]})]


def _plan_form(c: Ctx, a: str) -> list[Body]:
    data = {"region_code": AREAS[a][1], "name": f"{TAG[a]} plan {c.n()}", "level": "observe", "spacing": "8",
            "time_limit": "5", "existing": "registry"}
    return [Body(data=data, files={"area": ("area.geojson", plan_area(c.objs[a]["lon"], 25.0),
                                            "application/geo+json")})]


def _import_sites(c: Ctx, a: str) -> list[Body]:
    head = "name,region,kind,protection_class,sensitive,lon,lat\n"
    row = "{},{},residential,3,false,{},25.0\n"
    new = _csv(head + row.format(f"{TAG[a]} imported site {c.n()}", AREAS[a][1], c.objs[a]["lon"]))
    if a == "A":
        return [new]
    # the second file upserts the other town's existing site (same name and region)
    return [new, _csv(head + row.format(f"{TAG[a]} community", AREAS[a][1], 102.9))]


def _import_cameras(c: Ctx, a: str) -> list[Body]:
    head = "id,name,region,lon,lat\n"
    new = _csv(head + f",{TAG[a]} imported cam {c.n()},{AREAS[a][1]},{c.objs[a]['lon']},25.0\n")
    if a == "A":
        return [new]
    # the second file rewrites the other town's camera by its ID
    return [new, _csv(head + f"{c.objs[a]['camera_id']},renamed by A,{AREAS[a][1]},102.9,25.1\n")]


def _import_models(c: Ctx, a: str) -> list[Body]:
    head = "name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,unit_cost\n"
    if a == "A":
        return [_csv(head + f"imported model {c.n()},acme,1920,1080,90,50,30,bullet,100\n")]
    # changes the specs of the model that only town B's cameras use
    return [_csv(head + f"{c.objs[a]['model']},acme,640,480,10,5,0,bullet,1\n")]


BodyFactory = Callable[[Ctx, str], list[Body]]


def _same(body: Body) -> BodyFactory:
    """A body that names no object of any area (the route's path names the object)."""
    return lambda c, a: [body]


#: OpenAPI schema name -> factory(ctx, area) -> bodies: one for area A (the control), one or more attacks
#: for area B. Bodies made with :func:`_same` name no object and are not attacked on their own.
BODIES: dict[str, BodyFactory] = {
    "RegionIn": lambda c, a: [Body(json={"code": f"{AREAS[a][0]}{c.n():03d}", "name": f"{TAG[a]} new village"})],
    "RegionPatch": _same(Body(json={"name": "renamed region"})),
    "SiteIn": lambda c, a: [Body(json={"name": f"{TAG[a]} new site {c.n()}", "region_code": AREAS[a][1],
                                       "lon": c.objs[a]["lon"], "lat": 25.0})],
    "SitePatch": _same(Body(json={"name": "renamed site"})),
    "ModelIn": lambda c, a: [Body(json={"name": f"new model {c.n()}", "h_res_px": 1920, "v_res_px": 1080,
                                        "hfov_deg": 90, "vfov_deg": 50})],
    "CameraIn": _camera_in,
    "CameraPatch": lambda c, a: [Body(json={"name": "renamed cam"})] if a == "A" else [
        Body(json={"site_id": c.objs["B"]["site_id"]})],
    "UserIn": _user_in,
    "UserPatch": _user_patch,
    "AssignIn": _same(Body(json={"technician": "tech one"})),
    "NoteIn": _same(Body(json={"note": "fixed"})),
    "DecisionIn": _same(Body(json={"note": "ok"})),
    "AnalyticsIn": _same(Body(json={"enabled": True})),
    "list[MaskIn]": _same(Body(json=[{"name": "m", "polygon": [[0, 0], [0.2, 0], [0.2, 0.2]]}])),
    "TeamIn": lambda c, a: [Body(json={"name": f"{TAG[a]} new team {c.n()}", "region_code": AREAS[a][0]})],
    "RetrievalIn": lambda c, a: [Body(json={"camera_id": c.objs[a]["camera_id"], "start": "2026-01-01T08:00:00Z",
                                            "end": "2026-01-01T08:01:00Z", "kind": "view",
                                            "reason": f"{TAG[a]} incident"})],
    "RemoteRetrievalIn": lambda c, a: [Body(json={"camera_id": c.objs[a]["camera_id"], "reason": f"{TAG[a]} case",
                                                  "start": "2026-01-01T08:00:00Z", "end": "2026-01-01T08:01:00Z"})],
    "Body_create_plan_api_v1_plans_post": _plan_form,
    "Body_import_regions_api_v1_import_regions_post": lambda c, a: [
        _csv(f"code,name,level,parent\n{AREAS[a][0]}{c.n():03d},{TAG[a]} imported village,4,{AREAS[a][0]}\n")],
    "Body_import_sites_api_v1_import_sites_post": _import_sites,
    "Body_import_models_api_v1_import_models_post": _import_models,
    "Body_import_cameras_api_v1_import_cameras_post": _import_cameras,
    "MePatch": lambda c, a: [Body(json={"locale": "zh-CN"})],  # one's own language: no other town's object
    # a wall layout names cameras: the attack puts another town's camera on one's own wall
    "WallIn": lambda c, a: [Body(json={"name": f"{TAG[a]} wall", "size": 4,
                                       "cameras": [c.objs[a]["camera_id"], None], "cycle_s": 0})],
}
UNSCOPED_BODIES = {"RegionPatch", "SitePatch", "ModelIn", "AssignIn", "NoteIn", "DecisionIn", "AnalyticsIn",
                   "list[MaskIn]", "MePatch"}
PATH.update(citykit.PATH)  # city plans: a stored plan, the request body, its file names
BODIES.update(citykit.BODIES)
UNSCOPED_PATH.update(citykit.UNSCOPED_PATH)
PATH.update(centrekit.PATH)  # the monitoring centre's objects and bodies
BODIES.update(centrekit.BODIES)
UNSCOPED_BODIES |= centrekit.UNSCOPED_BODIES
PATH.update(gbscopekit.PATH)  # GB/T 28181 devices
PATH.update(jobscopekit.PATH)  # plan jobs
PATH.update(channelscopekit.PATH)  # notification channels
BODIES["ChannelIn"] = lambda c, a: [Body(json=channelscopekit.body(c, a))]

# ----------------------------------------------------------------------------- query parameters
#: Required query parameters: name -> factory(ctx, area).
REQUIRED_QUERY: dict[str, Callable[[Ctx, str], str]] = {
    "region": lambda c, a: AREAS[a][0],
    "date": lambda c, a: "2026-01-01",
}
#: Optional filters that name an object: each is sent with another town's object and with a missing one.
FILTERS: dict[str, Callable[[Ctx, str], str]] = {
    "region": lambda c, a: AREAS[a][1],
    "parent": lambda c, a: AREAS[a][0],
    "root": lambda c, a: AREAS[a][0],
    "camera": lambda c, a: c.objs[a]["camera_id"],
    "site": lambda c, a: str(c.objs[a]["site_id"]),
}
assert set(FILTERS) <= set(MISSING)


# ----------------------------------------------------------------------------- routes
@dataclass(frozen=True)
class Route:
    """One (method, path) the app serves, with what its OpenAPI document says about its inputs."""

    method: str
    path: str
    params: tuple[str, ...] = ()
    body: tuple[str, str] | None = None  # (content type, schema name)
    required_query: tuple[str, ...] = ()
    query: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _schema_name(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        return f"list[{_schema_name(schema['items'])}]"
    return schema["$ref"].rsplit("/", 1)[1]


def app_routes(app: FastAPI) -> list[Route]:
    """Every (method, path) of ``app``: its routes walked directly, described by its OpenAPI document."""
    spec = app.openapi()["paths"]
    out = []
    for rc in iter_route_contexts(app.routes):
        for method in sorted((rc.methods or {"GET"}) - {"HEAD"}):
            op = spec.get(rc.path, {}).get(method.lower(), {})
            body = None
            if rb := op.get("requestBody"):
                ct, media = next(iter(rb["content"].items()))
                body = (ct, _schema_name(media["schema"]))
            qs = [p for p in op.get("parameters", []) if p["in"] == "query"]
            out.append(Route(method, rc.path, tuple(re.findall(r"{(\w+)(?::\w+)?}", rc.path)), body,
                             tuple(p["name"] for p in qs if p.get("required")), tuple(p["name"] for p in qs)))
    return out


@dataclass(frozen=True)
class Req:
    """A request ready to send."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    body: Body = Body()
    label: str = ""

    def send(self, client: Any, headers: dict[str, str] | None = None) -> Any:
        return client.request(self.method, self.url, params=self.params, json=self.body.json,
                              data=self.body.data, files=self.body.files, headers=headers or {})

    def text(self) -> str:
        """Everything the request says (markers it holds may be echoed back)."""
        b = self.body
        files = " ".join(f[1].decode(errors="replace") for f in (b.files or {}).values())
        return f"{self.url} {self.params} {b.json} {b.data} {files}"


class NoFactory(LookupError):
    """A route input the matrix cannot build: the route would escape the matrix."""


def build(ctx: Ctx, r: Route, *, path_area: str = "A", body_area: str = "A", query_area: str = "A",
          path_values: dict[str, str] | None = None) -> list[Req]:
    """Requests for ``r`` naming objects of the given areas (several when the body factory has variants)."""
    fresh = r.method != "GET"
    url = r.path
    for p in r.params:
        if path_values and p in path_values:
            val = path_values[p]
        elif p in PATH:
            val = PATH[p](ctx, path_area, r.path, fresh)
        elif p in UNSCOPED_PATH:
            val = UNSCOPED_PATH[p]
        else:
            raise NoFactory(f"{r.key}: no factory for path parameter {p!r}; add one to matrixkit.PATH")
        url = re.sub(r"{" + p + r"(?::\w+)?}", val, url)
    params = {}
    for q in r.required_query:
        if q not in REQUIRED_QUERY:
            raise NoFactory(f"{r.key}: no factory for required query parameter {q!r}; add one to REQUIRED_QUERY")
        params[q] = REQUIRED_QUERY[q](ctx, query_area)
    if r.body is None:
        return [Req(r.method, url, params, label=f"path={path_area} query={query_area}")]
    if r.body[1] not in BODIES:
        raise NoFactory(f"{r.key}: no factory for request body {r.body[1]!r} ({r.body[0]}); add one to BODIES")
    return [Req(r.method, url, params, b, f"path={path_area} body={body_area}#{i} query={query_area}")
            for i, b in enumerate(BODIES[r.body[1]](ctx, body_area))]


def attacks(ctx: Ctx, r: Route) -> list[Req]:
    """Every request of ``r`` that names at least one object of town B, each otherwise valid."""
    slots = []
    if any(p in PATH for p in r.params):
        slots.append("path_area")
    if r.body is not None and r.body[1] not in UNSCOPED_BODIES:
        slots.append("body_area")
    if any(q == "region" for q in r.required_query):
        slots.append("query_area")
    out: list[Req] = []
    if not slots:
        return out
    out += build(ctx, r, **dict.fromkeys(slots, "B"))
    if len(slots) > 1:  # one slot at a time too: an object in scope that refers to one outside it
        for s in slots:
            out += build(ctx, r, **{s: "B"})
    return out


def missing_pairs(ctx: Ctx, r: Route) -> list[tuple[Req, Req, str, str]]:
    """(B request, missing-object request, B value, missing value) for each object path parameter."""
    out = []
    for p in r.params:
        if p not in PATH or r.method != "GET":
            continue
        b_val = PATH[p](ctx, "B", r.path, False)
        b = build(ctx, r, path_values={p: b_val})[0]
        m = build(ctx, r, path_values={p: MISSING[p]})[0]
        out.append((b, m, b_val, MISSING[p]))
    return out


def filter_pairs(ctx: Ctx, r: Route) -> list[tuple[Req, Req, str, str]]:
    """(request filtered by town B's object, by a missing object, B value, missing value) per filter."""
    out = []
    for q in r.query:
        if q not in FILTERS or q in r.required_query:
            continue
        base = build(ctx, r)[0]
        b_val = FILTERS[q](ctx, "B")
        out.append((replace(base, params={**base.params, q: b_val}),
                    replace(base, params={**base.params, q: MISSING[q]}), b_val, MISSING[q]))
    return out
