"""Bad input is a 4xx problem+json that names the field, never a 500 (and the database is unchanged)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import TOWN1, VILLAGE1, build_world
from vigil.api.app import create_app
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Site
from vigil.registry.geometry import MAX_VERTICES

BIG = 2**63
SQUARE = {"type": "Polygon", "coordinates": [[[102.70, 25.0], [102.71, 25.0], [102.71, 25.01], [102.70, 25.01],
                                              [102.70, 25.0]]]}


@pytest.fixture
def api(vigil):
    w = build_world(vigil)
    c = TestClient(create_app(vigil), raise_server_exceptions=False)
    c.headers["Authorization"] = f"Bearer {w.tokens['root']}"
    return c, w, vigil


def _problem(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    if field is not None:
        assert field in r.text, f"{field!r} is not named in {r.text}"
    return body


@pytest.mark.parametrize(("method", "url"), [
    ("get", f"/api/v1/sites/{BIG}"),
    ("get", f"/api/v1/users/{BIG}"),
    ("delete", f"/api/v1/sites/{BIG}"),
    ("get", f"/api/v1/cameras?offset={BIG}"),
    ("get", f"/api/v1/sites?offset={BIG}"),
    ("get", f"/api/v1/regions?offset={BIG}"),
    ("get", f"/api/v1/cameras?site={BIG}"),
])
def test_integers_out_of_range(api, method, url):
    c, _, _ = api
    _problem(getattr(c, method)(url), 422)


def test_out_of_range_body_integer(api):
    c, w, _ = api
    r = c.patch(f"/api/v1/cameras/{w.cameras[TOWN1]}", json={"site_id": BIG})
    _problem(r, 422, "site_id")


@pytest.mark.parametrize(("what", "field"), [
    ("cameras", "name"), ("cameras", "tilt_deg"), ("cameras", "lifecycle"), ("cameras", "lon"),
    ("sites", "name"), ("sites", "protection_class"), ("regions", "name"),
    ("users", "regions"), ("users", "role"), ("users", "active"),
])
def test_null_on_required_field(api, what, field):
    c, w, v = api
    key = {"cameras": w.cameras[TOWN1], "sites": w.sites[TOWN1], "regions": VILLAGE1,
           "users": w.users[TOWN1]}[what]
    _problem(c.patch(f"/api/v1/{what}/{key}", json={field: None}), 422, field)
    with v.db.session() as s:
        assert s.get(Camera, w.cameras[TOWN1]).name == "Gate 1"


def test_nullable_fields_may_be_cleared(api):
    c, w, _ = api
    r = c.patch(f"/api/v1/cameras/{w.cameras[TOWN1]}", json={"site_id": None, "model": None})
    assert r.status_code == 200 and r.json()["site_id"] is None


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1969-12-31"])
def test_daily_report_date_out_of_range(api, day):
    c, _, _ = api
    _problem(c.get("/api/v1/health/report/daily", params={"region": TOWN1, "date": day}), 422, "date")


def _deep(n: int) -> dict:
    doc: object = [102.7, 25.0]
    for _ in range(n):
        doc = [doc]
    return {"type": "Polygon", "coordinates": doc}


BAD_GEOMETRIES = {
    "bow-tie": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
    "not geojson": {"hello": "world"},
    "metres": {"type": "Polygon", "coordinates": [[[500000, 2700000], [500100, 2700000], [500100, 2700100],
                                                   [500000, 2700000]]]},
    "point": {"type": "Point", "coordinates": [102.7, 25.0]},
    "booleans": {"type": "Polygon", "coordinates": [[[True, False], [1, 0], [1, 1], [True, False]]]},
    "too many vertices": {"type": "Polygon", "coordinates": [
        [[102.0 + i * 1e-6, 25.0] for i in range(MAX_VERTICES)] + [[102.0, 25.1], [102.0, 25.0]]]},
    "nested 200 deep": _deep(200),
    "crs in metres": {**SQUARE, "crs": {"type": "name", "properties": {"name": "EPSG:32648"}}},
    "crs naming 4326 in passing": {**SQUARE, "crs": {"type": "name", "properties": {"name": "EPSG:43260"}}},
}


@pytest.mark.parametrize("name", sorted(BAD_GEOMETRIES))
def test_site_geometry_follows_the_importer_rule(api, name):
    c, w, v = api
    g = BAD_GEOMETRIES[name]
    _problem(c.post("/api/v1/sites", json={"name": "x", "region_code": VILLAGE1, "geometry": g}), 422, "geometry")
    _problem(c.patch(f"/api/v1/sites/{w.sites[TOWN1]}", json={"geometry": g}), 422, "geometry")
    with v.db.session() as s:
        assert s.get(Site, w.sites[TOWN1]).geometry is None


def test_valid_polygon_is_stored(api):
    c, w, _ = api
    r = c.patch(f"/api/v1/sites/{w.sites[TOWN1]}", json={"geometry": SQUARE})
    assert r.status_code == 200 and r.json()["geometry"]["type"] == "Polygon"


def test_deeply_nested_body_is_a_4xx(api):
    c, w, _ = api
    body = '{"geometry": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = c.patch(f"/api/v1/sites/{w.sites[TOWN1]}", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_camera_id_type_code_checked(api):
    c, _, v = api
    platform_id = generate_device_id(VILLAGE1, 77, type_code=200).value
    r = c.post("/api/v1/cameras", json={"id": platform_id, "name": "x", "region_code": VILLAGE1, "lon": 102.7,
                                        "lat": 25.0})
    _problem(r, 422, "id")
    assert "type code 200" in r.text
    with v.db.session() as s:
        assert s.get(Camera, platform_id) is None


@pytest.mark.parametrize("code", ["12", "530181011", "abcd"])
def test_region_code_format(api, code):
    c, _, _ = api
    _problem(c.post("/api/v1/regions", json={"code": code, "name": "x"}), 422, "code")


def test_nul_bytes_refused_everywhere(api):
    c, w, v = api
    cam = w.cameras[TOWN1]
    tail = "a" * 70_000 + "\x00"  # past the first 64 KiB too
    _problem(c.patch(f"/api/v1/cameras/{cam}", json={"name": "x\x00y"}), 422, "name")
    _problem(c.patch(f"/api/v1/cameras/{cam}", json={"username": tail}), 422, "username")
    _problem(c.post("/api/v1/sites", json={"name": "s", "region_code": VILLAGE1, "geometry": {"type\x00": 1}}),
             422, "geometry")
    _problem(c.get("/api/v1/cameras", params={"q": "a\x00"}), 422, "query")
    _problem(c.get(f"/api/v1/cameras/{cam}%00"), 422, "path")
    # an escaped backslash followed by "u0000" is text, not a NUL
    assert c.patch(f"/api/v1/cameras/{cam}", json={"name": "x\\u0000"}).status_code == 200
    with v.db.session() as s:
        assert s.get(Camera, cam).name == "x\\u0000"


def test_import_refuses_a_nul_after_64_kib(api):
    c, _, v = api
    csv = ("id,name,region,lon,lat\n" + ",".join(["", "a" * 70_000, VILLAGE1, "102.7", "25.0"]) + "\x00\n")
    r = c.post("/api/v1/import/cameras", files={"file": ("cams.csv", csv.encode(), "text/csv")})
    assert 400 <= r.status_code < 500, r.text
    with v.db.session() as s:
        assert s.query(Camera).count() == 2


def test_a_500_keeps_the_connection_and_is_counted(api, monkeypatch):
    c, w, _ = api
    from vigil.registry import service

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(service, "get_site", boom)
    r = c.get(f"/api/v1/sites/{w.sites[TOWN1]}")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert "kaboom" not in r.text and "Traceback" not in r.text
    assert r.headers.get("connection") != "close"
    metrics = c.get("/metrics").text
    assert 'route="/api/v1/sites/{site_id}",status="500"' in metrics
    assert 'route="/api/v1/sites/{site_id}"' in metrics and "vigil_db_pool_saturation" in metrics
