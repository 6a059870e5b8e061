"""Region outlines: the migration that adds them keeps the rows, the API creates, changes, clears and refuses them
by the site rule (422 naming the field), every change is audited, and the map layer shows only what is in scope."""

from __future__ import annotations

import math

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from factories import CITY, PREF, TOWN1, TOWN2, VILLAGE1, build_world
from vigil.api.app import create_app
from vigil.core.db import _alembic_config
from vigil.core.models import AuditEntry, Region
from vigil.registry.geometry import MAX_VERTICES


def square(lon: float, lat: float, d: float) -> dict:
    """A square GeoJSON Polygon of half-side ``d`` degrees around ``lon``, ``lat``."""
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


BOW_TIE = {"type": "Polygon", "coordinates": [[[102.7, 25.0], [102.8, 25.1], [102.8, 25.0], [102.7, 25.1],
                                                [102.7, 25.0]]]}


def test_the_migration_adds_an_empty_outline_and_keeps_the_regions(vigil) -> None:
    cfg = _alembic_config(vigil.db.engine)
    cfg.attributes.update(vigil.db.info)
    command.downgrade(cfg, "h2_region_outline-1")
    assert "outline" not in {c["name"] for c in inspect(vigil.db.engine).get_columns("regions")}
    with vigil.db.engine.begin() as conn:  # what the release before wrote: no outline column
        conn.execute(text("INSERT INTO regions (code, name, level, parent_code, lon, lat, created_at, updated_at, "
                          "version) VALUES ('5301', '昆明市', 1, NULL, 102.7, 25.0, :t, :t, 3)"), {"t": "2026-01-01"})
    command.upgrade(cfg, "heads")
    with vigil.db.session() as s:
        r = s.get(Region, PREF)
        assert (r.name, r.lon, r.version, r.outline) == ("昆明市", 102.7, 3, None)
        r.outline = square(102.7, 25.0, 0.1)
    with vigil.db.session() as s:
        assert s.get(Region, PREF).outline == square(102.7, 25.0, 0.1)
        r = s.get(Region, PREF)
        r.outline = None
    with vigil.db.engine.connect() as conn:  # cleared is SQL NULL, not a JSON null
        assert conn.execute(text("SELECT count(*) FROM regions WHERE outline IS NULL")).scalar() == 1


@pytest.fixture
def api(vigil):  # type: ignore[no-untyped-def]
    w = build_world(vigil)
    return TestClient(create_app(vigil), raise_server_exceptions=False), w, vigil


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_patch_clear_and_audit_an_outline(api) -> None:
    c, w, v = api
    t = _h(w.tokens[TOWN1])
    new = f"{TOWN1}301"
    r = c.post("/api/v1/regions", headers=t, json={"code": new, "name": "新村", "outline": square(102.71, 25.0, 0.01)})
    assert r.status_code == 201, r.text
    assert r.json()["outline"]["type"] == "Polygon" and r.json()["has_outline"] is True
    got = c.get(f"/api/v1/regions/{new}", headers=t)
    assert got.json()["outline"] == square(102.71, 25.0, 0.01)
    listed = c.get("/api/v1/regions", headers=t, params={"parent": TOWN1}).json()["items"]
    assert {x["code"]: x["has_outline"] for x in listed} == {VILLAGE1: False, new: True}
    assert all("outline" not in x for x in listed)  # a list says whether, not what
    multi = {"type": "MultiPolygon", "coordinates": [square(102.71, 25.0, 0.01)["coordinates"],
                                                     square(102.75, 25.0, 0.01)["coordinates"]]}
    r = c.patch(f"/api/v1/regions/{new}", headers={**t, "If-Match": got.headers["etag"]}, json={"outline": multi})
    assert r.status_code == 200 and r.json()["outline"]["type"] == "MultiPolygon" and r.json()["name"] == "新村"
    r = c.patch(f"/api/v1/regions/{new}", headers=t, json={"name": "新村二"})  # leaving it out keeps it
    assert r.json()["outline"]["type"] == "MultiPolygon"
    r = c.patch(f"/api/v1/regions/{new}", headers=t, json={"outline": None})
    assert r.status_code == 200 and r.json()["outline"] is None and r.json()["has_outline"] is False
    with v.db.session() as s:
        notes = [(e.action, e.detail.get("outline")) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.target == f"region:{new}").order_by(AuditEntry.seq))]
    assert notes == [("region.create", "5 vertices"), ("region.update", "10 vertices"), ("region.update", None),
                     ("region.update", "cleared")]


def _too_many() -> dict:
    n = MAX_VERTICES + 10
    ring = [[102.7 + 0.01 * math.cos(2 * math.pi * k / n), 25.0 + 0.01 * math.sin(2 * math.pi * k / n)]
            for k in range(n)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@pytest.mark.parametrize(("outline", "says"), [
    (BOW_TIE, "not a valid polygon"),
    ({"type": "Point", "coordinates": [102.7, 25.0]}, "Polygon or MultiPolygon"),
    (square(502.7, 25.0, 0.01), "WGS84"),
    ({"type": "Polygon", "coordinates": [[[102.7, 25.0], [True, 25.1], [102.8, 25.0], [102.7, 25.0]]]}, "numbers"),
    ({**square(102.7, 25.0, 0.01), "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}, "WGS84"),
    (_too_many(), f"more than {MAX_VERTICES} vertices"),
])
def test_a_bad_outline_is_refused_naming_the_field(api, outline, says) -> None:
    c, w, v = api
    t = _h(w.tokens[TOWN1])
    for r in (c.patch(f"/api/v1/regions/{VILLAGE1}", headers=t, json={"outline": outline}),
              c.post("/api/v1/regions", headers=t, json={"code": f"{TOWN1}302", "name": "x", "outline": outline})):
        assert r.status_code == 422, r.text
        body = r.text
        assert "outline" in body and says in body, body
    with v.db.session() as s:
        assert s.get(Region, VILLAGE1).outline is None and s.get(Region, f"{TOWN1}302") is None


def test_the_outline_layer_holds_only_what_is_in_scope(api) -> None:
    c, w, v = api
    root, town1 = _h(w.tokens["root"]), _h(w.tokens[TOWN1])
    for code, lon in ((CITY, 102.7), (TOWN1, 102.71), (TOWN2, 102.72), (VILLAGE1, 102.71)):
        assert c.patch(f"/api/v1/regions/{code}", headers=root,
                       json={"outline": square(lon, 25.0, 0.05 if len(code) < 8 else 0.01)}).status_code == 200
    everything = c.get("/api/v1/regions/geojson", headers=root).json()["features"]
    assert [f["id"] for f in everything] == [CITY, TOWN1, TOWN2, VILLAGE1]  # by level, then code
    props = everything[1]["properties"]
    assert props["name"] == "Town 1" and props["level"] == 3 and props["parent_code"] == CITY
    assert 102.66 < props["label"][0] < 102.76 and 24.95 < props["label"][1] < 25.05
    mine = c.get("/api/v1/regions/geojson", headers=town1)
    assert [f["id"] for f in mine.json()["features"]] == [TOWN1, VILLAGE1]  # not town 2, not the city above
    assert "Town 2" not in mine.text and TOWN2 not in mine.text
    up = c.get("/api/v1/regions/geojson", headers=town1, params={"region": VILLAGE1, "ancestors": True})
    assert [f["id"] for f in up.json()["features"]] == [TOWN1, VILLAGE1]  # its town, still not the city
    assert c.get("/api/v1/regions/geojson", headers=town1, params={"region": TOWN2}).status_code == 404
    assert [f["id"] for f in c.get("/api/v1/regions/geojson", headers=root, params={
        "region": VILLAGE1, "ancestors": True}).json()["features"]] == [CITY, TOWN1, VILLAGE1]
    # cached: unchanged is a bodiless 304, a cleared outline changes the tag
    tag = mine.headers["etag"]
    assert mine.headers["cache-control"] == "private, no-cache"
    again = c.get("/api/v1/regions/geojson", headers={**town1, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert c.patch(f"/api/v1/regions/{VILLAGE1}", headers=town1, json={"outline": None}).status_code == 200
    changed = c.get("/api/v1/regions/geojson", headers={**town1, "If-None-Match": tag})
    assert changed.status_code == 200 and [f["id"] for f in changed.json()["features"]] == [TOWN1]


def test_the_outline_is_in_the_openapi_document(api) -> None:
    c, _, _ = api
    doc = c.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "outline" in schemas["RegionDetailPublic"]["properties"]
    assert "outline" in schemas["RegionPatch"]["properties"] and "outline" in schemas["RegionIn"]["properties"]
    get = doc["paths"]["/api/v1/regions/geojson"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("RegionMapPublic")


def test_a_site_without_geometry_stays_out_of_the_sites_layer(api) -> None:
    """A site created with no geometry is stored as a JSON null, which the layer query cannot tell from a polygon."""
    c, w, _ = api
    t = _h(w.tokens[TOWN1])
    assert c.post("/api/v1/sites", headers=t, json={"name": "无边界", "region_code": VILLAGE1}).status_code == 201
    r = c.get("/api/v1/sites/geojson", headers=t)
    assert r.status_code == 200 and "无边界" not in r.text
