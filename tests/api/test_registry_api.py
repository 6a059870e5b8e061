import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import TOWN1, TOWN2, VILLAGE1, build_world
from vigil.access.audit import verify_chain
from vigil.api.app import create_app
from vigil.core.models import Camera


@pytest.fixture
def api(vigil):
    w = build_world(vigil)
    client = TestClient(create_app(vigil), raise_server_exceptions=False)
    return client, w, vigil


def h(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_login_me_logout(api):
    c, w, _ = api
    r = c.post("/api/v1/auth/login", json={"username": "admin", "password": w.admin_password})
    assert r.status_code == 200, r.text
    tok = r.json()["token"]
    assert r.cookies.get("vigil_token") == tok
    assert c.get("/api/v1/auth/me", headers=h(tok)).json()["role"] == "admin"
    assert c.post("/api/v1/auth/logout", headers=h(tok)).status_code == 200
    assert c.get("/api/v1/auth/me", headers=h(tok)).status_code == 401
    bad = c.post("/api/v1/auth/login", json={"username": "admin", "password": "nope-nope-nope"})
    assert bad.status_code == 401
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["status"] == 401 and bad.json()["title"]


def test_camera_crud_search_pagination(api):
    c, w, v = api
    t = h(w.tokens[TOWN1])
    created = []
    for i in range(7):
        r = c.post("/api/v1/cameras", headers=t, json={
            "name": f"Crossroads {i}", "region_code": VILLAGE1, "lon": 102.71, "lat": 25.01 + i / 1000,
            "kind": "public_area", "model": "Bullet-4MP", "username": "op", "password": f"pw{i}",
            "main_url": f"rtsp://127.0.0.9/{i}"})
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
    assert len(set(created)) == 7 and all(x.startswith("53018101") for x in created)
    # the password is encrypted at rest and never returned
    with v.db.session() as s:
        cam = s.get(Camera, created[0])
        assert cam.password_enc and b"pw0" not in cam.password_enc
        assert v.box.open(cam.password_enc) == "pw0"
    r = c.get("/api/v1/cameras", headers=t, params={"q": "Crossroads", "limit": 3, "offset": 3, "sort": "name"})
    body = r.json()
    assert body["total"] == 7 and [x["name"] for x in body["items"]] == ["Crossroads 3", "Crossroads 4", "Crossroads 5"]
    assert "password" not in r.text
    r = c.get("/api/v1/cameras", headers=t, params={"kind": "public_area", "lifecycle": "planned"})
    assert r.json()["total"] == 7
    # lifecycle moves forward only
    cid = created[0]
    assert c.patch(f"/api/v1/cameras/{cid}", headers=t, json={"lifecycle": "retired"}).status_code == 200
    r = c.patch(f"/api/v1/cameras/{cid}", headers=t, json={"lifecycle": "in_service"})
    assert r.status_code == 409 and "cannot go from retired" in r.json()["detail"]
    assert c.delete(f"/api/v1/cameras/{cid}", headers=t).status_code == 204
    assert c.get(f"/api/v1/cameras/{cid}", headers=t).status_code == 404


def test_camera_id_must_match_region(api):
    c, w, _ = api
    r = c.post("/api/v1/cameras", headers=h(w.tokens[TOWN1]), json={
        "id": "53018102001320000077", "name": "x", "region_code": VILLAGE1, "lon": 102.7, "lat": 25})
    assert r.status_code == 422
    assert "centre code 53018102" in r.json()["detail"] and "53018101" in r.json()["detail"]


def test_bad_input_is_problem_json(api):
    c, w, _ = api
    r = c.post("/api/v1/cameras", headers=h(w.tokens[TOWN1]), json={"name": "x", "region_code": "12", "lon": 500})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {tuple(e["loc"])[-1] for e in r.json()["errors"]} >= {"lon", "lat"}


def test_rollup_four_levels(api):
    c, w, _ = api
    r = c.get("/api/v1/rollups", headers=h(w.tokens["root"]), params={"region": "530181"})
    body = r.json()
    assert body["total"] == 2
    assert {ch["code"]: ch["total"] for ch in body["children"]} == {TOWN1: 1, TOWN2: 1}
    assert body["by_lifecycle"] == {"in_service": 2}
    town = c.get("/api/v1/rollups", headers=h(w.tokens[TOWN1])).json()
    assert town["region"]["code"] == TOWN1 and town["total"] == 1
    assert [ch["code"] for ch in town["children"]] == [VILLAGE1]


def test_region_tree_scoped(api):
    c, w, _ = api
    tree = c.get("/api/v1/regions/tree", headers=h(w.tokens[TOWN1]), params={"depth": 2}).json()
    assert [n["code"] for n in tree] == [TOWN1]
    assert tree[0]["cameras"] == 1 and tree[0]["children"][0]["code"] == VILLAGE1


def test_reads_and_writes_are_audited(api):
    c, w, v = api
    cam = w.cameras[TOWN1]
    c.get(f"/api/v1/cameras/{cam}", headers=h(w.tokens[TOWN1]))
    with v.db.session() as s:
        rep = verify_chain(s)
        assert rep.ok
        from vigil.core.models import AuditEntry

        actions = [e.action for e in s.scalars(select(AuditEntry))]
    assert "camera.view" in actions and "user.create" in actions


def test_metrics_needs_auth(api):
    c, w, _ = api
    assert c.get("/metrics").status_code == 401
    c.get("/api/v1/cameras", headers=h(w.tokens[TOWN1]))
    r = c.get("/metrics", headers=h(w.tokens[TOWN1]))
    assert r.status_code == 200 and "vigil_http_requests_total" in r.text


def test_tree_marks_children_beyond_the_depth_limit(api):
    c, w, _ = api
    tree = c.get("/api/v1/regions/tree", headers=h(w.tokens["root"]), params={"depth": 1}).json()
    city = tree[0]["children"][0]
    assert city["code"] == "530181" and city["children"] == [] and city["has_children"] is True


def test_config_and_gzip(api):
    c, w, _ = api
    assert c.get("/api/v1/config").status_code == 401
    assert c.get("/api/v1/config", headers=h(w.tokens[TOWN1])).json()["tile_url"] == ""
    r = c.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
