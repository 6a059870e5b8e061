"""Every API route, taken from the app itself: no token → 401; another town's objects → 403/404.

When a new route introduces a path parameter, add a factory for it to ``OUT_OF_SCOPE``: the test
fails on unknown parameters so that no route escapes the matrix.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from factories import TOWN1, TOWN2, World, build_world
from vigil.api.app import create_app
from vigil.core.context import Vigil
from vigil.core.models import Camera

PUBLIC = {("POST", "/api/v1/auth/login")}

# path parameter name -> (in-scope value, out-of-scope value)
Factory = Callable[[World, Vigil], tuple[str, str]]
OUT_OF_SCOPE: dict[str, Factory] = {
    "code": lambda w, v: (TOWN1, TOWN2),
    "site_id": lambda w, v: (str(w.sites[TOWN1]), str(w.sites[TOWN2])),
    "camera_id": lambda w, v: (w.cameras[TOWN1], w.cameras[TOWN2]),
    "user_id": lambda w, v: (str(w.users[TOWN1]), str(w.users[TOWN2])),
    "request_id": lambda w, v: _video_ids(w, v)[0],
    "export_id": lambda w, v: _video_ids(w, v)[1],
    "segment": lambda w, v: ("seg00000.ts", "seg00000.ts"),
    "event_id": lambda w, v: _event_ids(w, v),
    "plan_id": lambda w, v: _plan_ids(w, v),
    "name": lambda w, v: ("summary.json", "summary.json"),
    "alarm_id": lambda w, v: _health_ids(w, v)[0],
    "order_id": lambda w, v: _health_ids(w, v)[1],
}


def _plan_ids(w: World, v: Vigil) -> tuple[str, str]:
    """One stored plan per town."""
    from vigil.coverage.models import PlanRecord

    with v.db.session() as s:
        rows = [PlanRecord(name=f"plan {t}", region_code=t, summary={"targets": 1}) for t in (TOWN1, TOWN2)]
        s.add_all(rows)
        s.flush()
        return str(rows[0].id), str(rows[1].id)


def _health_ids(w: World, v: Vigil) -> tuple[tuple[str, str], tuple[str, str]]:
    """One offline alarm with its work order per town: ((alarm1, alarm2), (order1, order2))."""
    if not hasattr(w, "health_ids"):
        from vigil.core.models import utcnow
        from vigil.health.alarms import _raise
        from vigil.health.workorders import open_for_alarm

        alarms, orders = [], []
        with v.db.session() as s:
            for town in (TOWN1, TOWN2):
                cam = s.get(Camera, w.cameras[town])
                a = _raise(s, cam.id, cam.region_code, "offline", utcnow(), utcnow(), "test")
                o = open_for_alarm(s, a, now=utcnow(), actor="test")
                s.flush()
                alarms.append(str(a.id))
                orders.append(str(o.id))
        w.health_ids = ((alarms[0], alarms[1]), (orders[0], orders[1]))
    return w.health_ids


def _event_ids(w: World, v: Vigil) -> tuple[str, str]:
    """One analytics event per town's camera."""
    from datetime import UTC, datetime

    from vigil.analytics.events import AnalyticsEvent, store_event
    from vigil.analytics.service import camera_region

    ids = []
    with v.db.session() as s:
        for town in (TOWN1, TOWN2):
            cam = w.cameras[town]
            ev = AnalyticsEvent(cam, "object", "person", datetime(2026, 1, 1, tzinfo=UTC), None, (0, 0, 1, 1), 0.9)
            ids.append(str(store_event(s, ev, camera_region(s, cam))))
    return ids[0], ids[1]


def _video_ids(w: World, v: Vigil) -> tuple[tuple[str, str], tuple[str, str]]:
    """One retrieval request and one export per town's camera: ((req1, req2), (exp1, exp2))."""
    from datetime import UTC, datetime

    from vigil.video.models import Export, RetrievalRequest

    reqs, exps = [], []
    with v.db.session() as s:
        for town in (TOWN1, TOWN2):
            t = datetime(2026, 1, 1, tzinfo=UTC)
            r = RetrievalRequest(requester=f"investigator-{town}", camera_id=w.cameras[town], start=t, end=t,
                                 kind="export", reason="scope test", state="approved")
            s.add(r)
            s.flush()
            e = Export(request_id=r.id, path="/nonexistent", manifest={}, signature="", created_by=r.requester)
            s.add(e)
            s.flush()
            reqs.append(str(r.id))
            exps.append(str(e.id))
    return (reqs[0], reqs[1]), (exps[0], exps[1])


HIDDEN = [("GET", "/metrics")]  # routes kept out of the OpenAPI document


def _routes(app) -> list[tuple[str, str, list[str]]]:
    """Every (method, path) the app serves, from its own OpenAPI document plus the hidden routes."""
    pairs = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]
    return [(m, path, re.findall(r"{(\w+)(?::\w+)?}", path)) for m, path in pairs + HIDDEN]


@pytest.fixture
def world(vigil):
    w = build_world(vigil)
    app = create_app(vigil)
    return TestClient(app, raise_server_exceptions=False), w, vigil, app


def _fill(path: str, params: list[str], w: World, v: Vigil, which: int) -> str:
    for p in params:
        if p not in OUT_OF_SCOPE:
            pytest.fail(f"route {path}: no out-of-scope factory for path parameter {p!r}; add one to OUT_OF_SCOPE")
        path = re.sub(r"{" + p + r"(?::\w+)?}", OUT_OF_SCOPE[p](w, v)[which], path)
    return path


def test_every_route_needs_authentication(world):
    client, w, v, app = world
    routes = _routes(app)
    assert len(routes) >= 20
    failures = []
    for method, path, params in routes:
        if (method, path) in PUBLIC:
            continue
        url = _fill(path, params, w, v, 0)
        r = client.request(method, url, json={})
        if r.status_code != 401:
            failures.append(f"{method} {path} -> {r.status_code}")
    assert not failures, failures


def test_other_towns_objects_are_out_of_reach(world):
    client, w, v, app = world
    token = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    failures = []
    for method, path, params in _routes(app):
        if not params:
            continue
        url = _fill(path, params, w, v, 1)
        r = client.request(method, url, json={}, headers=token)
        allowed = {403, 404} if method == "GET" else {403, 404, 422}
        if r.status_code not in allowed:
            failures.append(f"{method} {url} -> {r.status_code} {r.text[:120]}")
    assert not failures, failures


def _leaks(text: str, w: World) -> list[str]:
    return [s for s in (w.cameras[TOWN2], TOWN2, "Community 2", "Gate 2") if s in text]


def test_lists_and_searches_never_show_other_towns(world):
    client, w, v, app = world
    failures = []
    for role in ("", "duty_officer-", "maintenance-", "auditor-", "planner-", "investigator-"):
        token = {"Authorization": f"Bearer {w.tokens[role + TOWN1]}"}
        for method, path, params in _routes(app):
            if method != "GET" or params:
                continue
            for query in ({}, {"region": TOWN2}, {"q": "Gate"}, {"q": "5301810200"}, {"format": "csv"},
                          {"format": "geojson"}):
                r = client.get(path, params=query, headers=token)
                if r.status_code in (403, 404, 422):
                    continue
                if r.status_code != 200 or _leaks(r.text, w):
                    failures.append(f"{role}GET {path} {query} -> {r.status_code} leaks {_leaks(r.text, w)}")
    assert not failures, failures


def test_creating_in_another_town_is_refused(world):
    client, w, v, app = world
    token = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    r = client.post("/api/v1/cameras", headers=token,
                    json={"name": "x", "region_code": TOWN2, "lon": 102.7, "lat": 25.0})
    assert r.status_code in (403, 404)
    r = client.post("/api/v1/sites", headers=token, json={"name": "x", "region_code": TOWN2})
    assert r.status_code in (403, 404)
    r = client.post("/api/v1/users", headers=token, json={"name": "x", "role": "admin", "regions": [TOWN2]})
    assert r.status_code in (403, 404)
    r = client.post("/api/v1/regions", headers=token, json={"code": "53018103", "name": "x"})
    assert r.status_code in (403, 404)
