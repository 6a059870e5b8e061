"""Every route of the app against objects of another town: a matrix that cannot be fooled.

For each (method, path) the app serves (walked from ``app.routes``, described by its OpenAPI
document, multipart and hidden routes included), the factories in ``matrixkit`` build *valid*
requests naming town B's objects: its path objects, a body whose region, site or camera is town
B's (CSV and plan uploads too), a required ``region`` query. Each is sent by every town-A role:

- a role with the route's permission gets 404, exactly as for an object that does not exist;
- a role without it gets 403 (for an in-scope request as well);
- without a token every route answers 401;
- nothing in the database changes (town B's objects are not modified, moved or taken over);
- no answer to a town-A user holds a town-B marker (IDs, names, codes, passwords) it was not sent;
- the same request for town A's own objects succeeds (the control), so the attack is valid.

A route, path parameter, body schema or required query without a factory fails its case.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from matrixkit import NoFactory, Req, Route, app_routes, attacks, build, filter_pairs, missing_pairs
from scopekit import MARKERS, ROLES, VILLAGE1B, Ctx, build_matrix_world
from sqlalchemy import MetaData, select

from factories import TOWN1, VILLAGE1
from vigil.access.policy import has_permission
from vigil.access.users import issue_token
from vigil.api.app import create_app
from vigil.core.context import Vigil
from vigil.core.models import Camera, User

#: Routes that hold no instance data and need no token: sign-in, the API documents, the console files.
PUBLIC = {"POST /api/v1/auth/login", "GET /openapi.json", "GET /docs", "GET /docs/oauth2-redirect", "GET /redoc",
          "GET /ui", "GET /"}


@dataclass(frozen=True)
class Spec:
    """What a route needs: the permission (``None``: any signed-in user) and the control's statuses."""

    perm: str | None
    ok: frozenset[int] = frozenset({200, 201, 204})
    shared: bool = False  # the attack edits a shared object every town reads: 403, not 404
    control_role: str = "admin"


def _s(perm: str | None, *ok: int, shared: bool = False, control_role: str = "admin") -> Spec:
    return Spec(perm, frozenset(ok) if ok else Spec.ok, shared, control_role)


_READ, _WRITE = _s("registry.read"), _s("registry.write")
SPEC: dict[str, Spec] = {
    "POST /api/v1/plans": _s("plan.run", 202), "GET /api/v1/plans": _s("plan.run"),
    "GET /api/v1/plans/jobs": _s("plan.run"), "GET /api/v1/plans/jobs/{job_id}": _s("plan.run"),
    "GET /api/v1/plans/jobs/{job_id}/events": _s("plan.run"),
    "POST /api/v1/plans/jobs/{job_id}/cancel": _s("plan.run", 202),
    "GET /api/v1/plans/{plan_id}": _s("plan.run"), "GET /api/v1/plans/{plan_id}/files/{name}": _s("plan.run"),
    "POST /api/v1/plans/{plan_id}/apply": _s("plan.apply"),
    "POST /api/v1/city-plans": _s("plan.run", 202), "GET /api/v1/city-plans": _s("plan.run"),
    "GET /api/v1/city-plans/{city_plan_id}": _s("plan.run"),
    "GET /api/v1/city-plans/{city_plan_id}/files/{file_name}": _s("plan.run"),
    "POST /api/v1/auth/logout": _s(None), "GET /api/v1/auth/me": _s(None), "PATCH /api/v1/auth/me": _s(None),
    "GET /api/v1/regions": _READ, "GET /api/v1/regions/tree": _READ, "GET /api/v1/regions/{code}": _READ,
    "GET /api/v1/regions/geojson": _READ,
    "POST /api/v1/regions": _WRITE, "PATCH /api/v1/regions/{code}": _WRITE, "DELETE /api/v1/regions/{code}": _WRITE,
    "GET /api/v1/sites": _READ, "GET /api/v1/sites/geojson": _READ, "GET /api/v1/sites/{site_id}": _READ,
    "POST /api/v1/sites": _WRITE,
    "PATCH /api/v1/sites/{site_id}": _WRITE, "DELETE /api/v1/sites/{site_id}": _WRITE,
    "GET /api/v1/models": _READ, "POST /api/v1/models": _WRITE,
    "GET /api/v1/cameras": _READ, "GET /api/v1/cameras/geojson": _READ, "GET /api/v1/cameras/{camera_id}": _READ,
    "POST /api/v1/cameras": _s("registry.write_planned"),  # the bodies register planned cameras
    "PATCH /api/v1/cameras/{camera_id}": _s("registry.write_planned"),  # the cameras written are planned
    "DELETE /api/v1/cameras/{camera_id}": _WRITE,
    "GET /api/v1/users": _s("users.manage"), "GET /api/v1/users/{user_id}": _s("users.manage"),
    "POST /api/v1/users": _s("users.manage"), "PATCH /api/v1/users/{user_id}": _s("users.manage"),
    "DELETE /api/v1/users/{user_id}": _s("users.manage"),
    "POST /api/v1/users/{user_id}/password": _s("users.manage"),
    "GET /api/v1/rollups": _READ,
    "GET /api/v1/audit": _s("audit.read"), "GET /api/v1/audit/verify": _s("audit.read"),
    "GET /api/v1/health/kpi": _s("kpi.read"), "GET /api/v1/health/kpi/timeline": _s("kpi.read"),
    "GET /api/v1/health/status": _s("health.read"), "GET /api/v1/health/cameras/{camera_id}": _s("health.read"),
    "GET /api/v1/health/alarms": _s("health.read"), "POST /api/v1/health/alarms/{alarm_id}/ack": _s("alarm.ack"),
    "GET /api/v1/health/workorders": _s("health.read"), "GET /api/v1/health/workorders/{order_id}": _s("health.read"),
    "POST /api/v1/health/workorders/{order_id}/assign": _s("workorder.update"),
    "POST /api/v1/health/workorders/{order_id}/start": _s("workorder.update"),
    "POST /api/v1/health/workorders/{order_id}/resolve": _s("workorder.update"),
    "POST /api/v1/health/workorders/{order_id}/verify": _s("workorder.update"),
    "GET /api/v1/health/teams": _s("health.read"), "POST /api/v1/health/teams": _s("health.write"),
    "GET /api/v1/health/report/daily": _s("kpi.read"),
    # the control camera has no stream (503) and is not being watched (404): scope is checked first
    "GET /api/v1/video/live/{camera_id}/index.m3u8": _s("video.live", 503),
    "GET /api/v1/video/live/{camera_id}/{segment}": _s("video.live", 404),
    "GET /api/v1/video/cameras/{camera_id}/recordings": _s("video.retrieve"),
    "GET /api/v1/video/cameras/{camera_id}/masks": _READ, "PUT /api/v1/video/cameras/{camera_id}/masks": _WRITE,
    "GET /api/v1/video/walls": _s("video.live"), "PUT /api/v1/video/walls": _s("video.live"),  # one's own layouts
    "DELETE /api/v1/video/walls/{wall_id}": _s("video.live"),
    "GET /api/v1/video/snapshots/{camera_id}": _s("video.live", 503),  # the control camera has no stream
    "GET /api/v1/video/retrievals": _s("video.retrieve"), "POST /api/v1/video/retrievals": _s("video.retrieve"),
    "GET /api/v1/video/retrievals/{request_id}": _s("video.retrieve"),
    "POST /api/v1/video/retrievals/{request_id}/approve": _s("video.approve"),
    "POST /api/v1/video/retrievals/{request_id}/deny": _s("video.approve"),
    # the seeded recording is not real video: the requester's control gets as far as making the clip
    "GET /api/v1/video/retrievals/{request_id}/playback.mp4": _s("video.retrieve", 400, 404, 409, 503,
                                                                  control_role="investigator"),
    "POST /api/v1/video/retrievals/{request_id}/export": _s("video.retrieve", 400, 404, 409, 503,
                                                            control_role="investigator"),
    "GET /api/v1/video/exports/{export_id}": _s("video.retrieve"),
    "POST /api/v1/import/regions": _WRITE, "POST /api/v1/import/sites": _WRITE,
    "POST /api/v1/import/models": _s("registry.write", shared=True), "POST /api/v1/import/cameras": _WRITE,
    "GET /api/v1/export/cameras": _READ,
    "GET /api/v1/events": _s("events.read"), "GET /api/v1/events/{event_id}": _s("events.read"),
    "GET /api/v1/events/{event_id}/snapshot": _s("events.read"),
    "GET /api/v1/analytics/cameras": _s("events.read"), "GET /api/v1/analytics/cameras/{camera_id}": _s("events.read"),
    "PUT /api/v1/analytics/cameras/{camera_id}": _s("analytics.manage"),
    # /metrics: admins (or a scraper's metrics token); no other role holds this name
    "GET /api/v1/federation/links": _READ, "GET /api/v1/federation/remote": _READ,
    "GET /api/v1/federation/sources": _READ,
    "GET /api/v1/gb/devices": _READ, "GET /api/v1/gb/devices/{device_id}": _READ,
    "GET /api/v1/gb/devices/{device_id}/channels": _READ, "GET /api/v1/gb/uppers": _READ,
    # linked Vigil instances only (link tokens): every user, admins included, is refused
    "POST /federation/v1/feed": _s("federation.peer", 403), "GET /federation/v1/video": _s("federation.peer", 403),
    "POST /federation/v1/retrievals": _s("federation.peer", 403),
    "GET /federation/v1/playback": _s("federation.peer", 403),
    # the control camera is local: remote video answers 404 for it, after the scope check
    "GET /api/v1/federation/live/{camera_id}/{segment}": _s("video.live", 404),
    "POST /api/v1/federation/retrievals": _s("video.retrieve", 404),
    "GET /api/v1/federation/cameras/{camera_id}/playback.mp4": _s("video.retrieve", 404),
    "GET /metrics": _s("metrics.read"), "GET /api/v1/config": _s(None), "GET /api/v1/health": _s(None),
    # the monitoring centre
    "GET /api/v1/centre/shifts": _s("centre.read"), "POST /api/v1/centre/shifts": _s("centre.lead"),
    "GET /api/v1/centre/duty": _s("centre.read"), "POST /api/v1/centre/duty/on": _s("centre.duty"),
    "POST /api/v1/centre/duty/off": _s("centre.duty"),
    "GET /api/v1/centre/alarms": _s("centre.read"),
    "GET /api/v1/centre/handovers": _s("centre.read"), "POST /api/v1/centre/handovers": _s("centre.duty"),
    "POST /api/v1/centre/handovers/{handover_id}/ack": _s("centre.duty"),
    "GET /api/v1/centre/escalations": _s("centre.read"),
    "GET /api/v1/centre/rounds": _s("centre.read"), "POST /api/v1/centre/rounds": _s("centre.lead"),
    "POST /api/v1/centre/rounds/{round_id}/runs": _s("centre.duty"),
    "GET /api/v1/centre/runs/{run_id}": _s("centre.read"),
    "POST /api/v1/centre/runs/{run_id}/views": _s("centre.duty"),
    "POST /api/v1/centre/runs/{run_id}/finish": _s("centre.duty"),
    "GET /api/v1/centre/incidents": _s("centre.read"), "POST /api/v1/centre/incidents": _s("centre.duty"),
    "GET /api/v1/centre/incidents/{incident_id}": _s("centre.read"),
    "PATCH /api/v1/centre/incidents/{incident_id}": _s("centre.duty"),
    "POST /api/v1/centre/incidents/{incident_id}/items": _s("centre.duty"),
    "GET /api/v1/centre/cases": _s("centre.case"), "POST /api/v1/centre/cases": _s("centre.case"),
    "GET /api/v1/centre/cases/{case_id}": _s("centre.case"),
    "POST /api/v1/centre/cases/{case_id}/links": _s("centre.case"),
    "POST /api/v1/centre/cases/{case_id}/export": _s("centre.case"),
    "POST /api/v1/centre/cases/{case_id}/retrievals": _s("centre.case"),
    "GET /api/v1/centre/performance": _s("centre.read"), "GET /api/v1/centre/report": _s("centre.read"),
    "GET /api/v1/centre/traffic": _s("centre.read"), "GET /api/v1/centre/traffic/queues": _s("centre.read"),
    "GET /api/v1/notify/channels": _s("notify.manage"), "POST /api/v1/notify/channels": _s("notify.manage"),
    "POST /api/v1/notify/channels/{channel_id}/test": _s("notify.manage"),
    "DELETE /api/v1/notify/channels/{channel_id}": _s("notify.manage"),
}
_SKIP_TABLES = {"audit_log", "api_tokens", "alembic_version"}  # appended to by every call, reads included


def _routes() -> list[Route]:
    """The route table, read at collection time from an app on a throw-away instance."""
    with tempfile.TemporaryDirectory(prefix="vigil-routes-") as d:
        v = Vigil.open(f"sqlite:///{d}/v.db", f"{d}/home")
        try:
            return app_routes(create_app(v))
        finally:
            v.close()


ROUTES = _routes()


@pytest.fixture(scope="module")
def mx(module_vigil):
    ctx = build_matrix_world(module_vigil)
    md = MetaData()
    md.reflect(module_vigil.db.engine)
    tables = [t for t in md.sorted_tables if t.name not in _SKIP_TABLES and "login" not in t.name]
    client = TestClient(create_app(module_vigil), raise_server_exceptions=False)
    yield ctx, client, tables
    client.close()


def _snapshot(ctx: Ctx, tables) -> dict[str, set[str]]:
    with ctx.v.db.engine.connect() as c:
        return {t.name: {repr(tuple(r)) for r in c.execute(select(t))} for t in tables}


def _changes(before: dict[str, set[str]], after: dict[str, set[str]]) -> list[str]:
    return [f"{t}: -{sorted(before[t] - after[t])[:2]} +{sorted(after[t] - before[t])[:2]}"
            for t in before if before[t] != after[t]]


def _leaks(req: Req, body: bytes) -> list[str]:
    text, sent = body.decode(errors="replace"), req.text()
    return [m for m in MARKERS if m in text and m not in sent]


def _permitted(spec: Spec) -> list[str]:
    return [r for r in ROLES if spec.perm is None or has_permission(r, spec.perm)]


def _norm(resp, value: str, placeholder: str = "<ID>") -> tuple[int, str]:
    return resp.status_code, resp.text.replace(value, placeholder)


def _control_headers(ctx: Ctx, route: Route) -> dict[str, str]:
    if route.key != "POST /api/v1/auth/logout":
        return ctx.token(SPEC[route.key].control_role)
    with ctx.v.db.session() as s:  # signing out revokes the token: use one of its own
        return {"Authorization": f"Bearer {issue_token(s, s.get(User, ctx.w.users[TOWN1]))}"}


def _check_route(ctx: Ctx, client: TestClient, tables, route: Route) -> list[str]:
    spec = SPEC[route.key]
    fails: list[str] = []
    sent: list[tuple[Req, object]] = []

    def send(req: Req, headers: dict[str, str]):
        resp = req.send(client, headers)
        sent.append((req, resp))
        return resp

    controls = build(ctx, route)
    denied = [r for r in ROLES if r not in _permitted(spec)]
    plan = [(role, req) for req in attacks(ctx, route) for role in ROLES]
    plan += [(role, req) for req in build(ctx, route) for role in denied]
    before = _snapshot(ctx, tables)
    for req in controls:
        for headers, what in (({}, "no token"), ({"Authorization": "Bearer not-a-token"}, "a bad token")):
            if (r := req.send(client, headers)).status_code != 401:
                fails.append(f"{what} -> {r.status_code}, expected 401 ({req.label})")
    for role, req in plan:
        r = send(req, ctx.token(role))
        want = 403 if role in denied or spec.shared else 404
        if r.status_code != want:
            why = "lacks the permission" if role in denied else "the object is another town's"
            fails.append(f"{role} {req.label}: {r.status_code}, expected {want} ({why}): {r.text[:160]}")
    if changed := _changes(before, _snapshot(ctx, tables)):
        fails.append(f"refused requests changed the database: {changed}")
    for b, m, b_val, m_val in missing_pairs(ctx, route) + filter_pairs(ctx, route):
        for role in _permitted(spec):
            rb, rm = send(b, ctx.token(role)), send(m, ctx.token(role))
            if _norm(rb, b_val) != _norm(rm, m_val) or rb.status_code in (403, 422):
                fails.append(f"{role}: another town's {b_val} answers {rb.status_code} {rb.text[:100]!r}, a missing"
                             f" one {rm.status_code} {rm.text[:100]!r}: they must be indistinguishable")
    for req in controls:
        r = send(req, _control_headers(ctx, route))
        if r.status_code not in spec.ok:
            fails.append(f"control (own town, {spec.control_role}) {req.label}: {r.status_code}, expected one of "
                         f"{sorted(spec.ok)}; the factory does not build a valid request: {r.text[:200]}")
    fails += [f"leak: {req.method} {req.url} {req.params} -> {resp.status_code} shows {leaked}"
              for req, resp in sent if (leaked := _leaks(req, resp.content))]
    return fails


@pytest.mark.parametrize("route", [r for r in ROUTES if r.key not in PUBLIC], ids=lambda r: r.key)
def test_route_refuses_other_towns_objects(mx, route):
    ctx, client, tables = mx
    if route.key not in SPEC:
        pytest.fail(f"{route.key} is not in the scope matrix: add its permission to SPEC and factories for "
                    "its parameters and body to matrixkit")
    try:
        fails = _check_route(ctx, client, tables, route)
    except NoFactory as exc:
        pytest.fail(str(exc))
    assert not fails, f"{route.key}:\n  " + "\n  ".join(fails)


def test_the_matrix_knows_every_route_and_no_stale_one():
    keys = {r.key for r in ROUTES}
    assert len(keys) >= 70
    assert not set(SPEC) - keys, f"SPEC names routes the app no longer serves: {sorted(set(SPEC) - keys)}"
    assert keys - set(SPEC) <= PUBLIC


_OUTPUT_QUERIES = ({}, {"format": "csv"}, {"format": "geojson"}, {"format": "gpkg"}, {"format": "html"},
                   {"q": "ZEBRA"}, {"q": "5301810"}, {"state": "all"}, {"depth": "3"}, {"limit": "1000"})


@pytest.mark.parametrize("role", ROLES)
def test_outputs_never_show_other_towns(mx, role):
    """Lists, exports, reports, KPIs, rollups, audit and plan files of town A's objects, in every format."""
    ctx, client, _ = mx
    fails = []
    for route in ROUTES:
        if route.method != "GET" or route.key in PUBLIC:
            continue
        base = build(ctx, route)[0]
        for q in _OUTPUT_QUERIES:
            if not set(q) <= set(route.query):
                continue
            req = Req("GET", base.url, {**base.params, **q})
            r = req.send(client, ctx.token(role))
            if r.status_code == 200 and (leaked := _leaks(req, r.content)):
                fails.append(f"{route.key} {q} shows {leaked}")
    assert not fails, fails


def test_plan_with_registry_cameras_shows_only_cameras_in_scope(mx):
    """A plan near the town border with ``existing=registry``: its files hold no other town's camera."""
    ctx, client, _ = mx
    from scopekit import plan_area

    from planjobkit import post_plan

    sibling = ctx.objs["sibling"]["camera_id"]  # town A, 0.0022° west of the area; town B's is 0.0021° east
    form = {"region_code": TOWN1, "name": "border plan", "level": "observe", "spacing": "8", "time_limit": "5",
            "existing": "registry"}
    files = {"area": ("border.geojson", plan_area(102.7178, 25.0), "application/geo+json")}
    r = post_plan(client, ctx.v, data=form, files=files, headers=ctx.token("planner"))
    assert r.status_code == 200, r.text
    texts = [r.text]
    for name in ("summary.json", "plan.geojson", "targets.geojson", "report.html"):
        f = client.get(f"/api/v1/plans/{r.json()['id']}/files/{name}", headers=ctx.token("planner"))
        assert f.status_code in (200, 404), f.text
        texts.append(f.text)
    blob = "\n".join(texts)
    assert sibling in blob, "the plan did not read the registry at all: the check below would prove nothing"
    assert not [m for m in MARKERS if m in blob], "the plan's files show another town's cameras"


def test_village_admin_cannot_take_over_a_sibling_villages_camera(mx):
    """Camera IDs carry the town's centre code, so a sibling village's camera ID is valid in one's own village."""
    ctx, client, tables = mx
    cam = ctx.objs["sibling"]["camera_id"]
    admin = {"Authorization": f"Bearer {ctx.w.tokens['admin-village1']}"}
    before = _snapshot(ctx, tables)
    csv = f"id,name,region,lon,lat\n{cam},taken over,{VILLAGE1},102.711,25.0\n"
    r = client.post("/api/v1/import/cameras", files={"file": ("t.csv", csv.encode(), "text/csv")}, headers=admin)
    assert r.status_code == 404, f"import of a sibling village's camera ID: {r.status_code} {r.text[:200]}"
    r = client.patch(f"/api/v1/cameras/{cam}", json={"name": "taken over"}, headers=admin)
    assert r.status_code == 404, r.text
    assert not _changes(before, _snapshot(ctx, tables))
    with ctx.v.db.session() as s:
        assert s.get(Camera, cam).region_code == VILLAGE1B
