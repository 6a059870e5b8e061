"""POST /api/v1/plans refuses at once a map that lies outside the region (422 ``area-outside-region``, no job,
no stored upload); a map of the region, or one that cannot be read (its job reports that), is queued.
``vigil plan --region`` refuses it too, in one line in the run's language."""

from __future__ import annotations

import pytest
from covkit import mapdata
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from factories import TOWN1, VILLAGE1, build_world
from vigil.api.app import create_app
from vigil.cli import app as cli_app
from vigil.coverage.models import PlanJob
from vigil.coverage.service import plans_dir


@pytest.mark.parametrize(("area", "status"), [
    ("kunming", 202),   # 金色年华, a few km from the village's registered community
    ("shanghai", 422),  # a Shanghai extract for a Kunming village
    ("junk", 202),      # unreadable: queued, and its job fails at reading it
])
def test_a_map_outside_the_region_is_refused(sqlite_vigil, kunming_community, area, status) -> None:
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    body = {"kunming": kunming_community.read_bytes(), "shanghai": mapdata("shanghai_shu/map.osm").read_bytes(),
            "junk": b"not a map"}[area]
    name = "area.osm" if area == "shanghai" else "area.geojson"
    r = c.post("/api/v1/plans", data={"region_code": VILLAGE1, "time_limit": "5"}, headers=planner,
               files={"area": (name, body, "application/octet-stream")})
    assert r.status_code == status, r.text
    with sqlite_vigil.db.session() as s:
        queued = s.scalar(select(func.count()).select_from(PlanJob))
    if status == 202:
        assert queued == 1
        return
    p = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert p["type"].endswith("/area-outside-region") and p["region_code"] == VILLAGE1
    assert p["region_name"] == "Village 1" and p["distance_km"] > 1000 and p["margin_km"] == 10.0
    assert p["basis"] == "places"  # no outline up the tree: judged by what is placed
    assert p["detail"].startswith(f"the map lies outside region {VILLAGE1} (Village 1): it is ")
    assert queued == 0 and not any(plans_dir(sqlite_vigil).iterdir())  # the upload is not kept


def test_a_refusal_by_an_outline_says_so(sqlite_vigil, kunming_community) -> None:
    """The town's outline (an ancestor's) judges the village's plan: the document names that basis for the console."""
    from vigil.core.models import Region

    w = build_world(sqlite_vigil)
    with sqlite_vigil.db.session() as s:
        town = s.get(Region, TOWN1)
        assert town is not None
        town.outline = {"type": "Polygon", "coordinates": [[[102.6, 24.9], [102.8, 24.9], [102.8, 25.1],
                                                             [102.6, 25.1], [102.6, 24.9]]]}
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    r = c.post("/api/v1/plans", data={"region_code": VILLAGE1, "time_limit": "5"},
               headers={"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"},
               files={"area": ("area.osm", mapdata("shanghai_shu/map.osm").read_bytes(), "application/octet-stream")})
    assert r.status_code == 422, r.text
    p = r.json()
    assert p["basis"] == "outline" and "from the region's outline" in p["detail"] and p["distance_km"] > 1000


@pytest.mark.parametrize(("lang", "line"), [
    ("en", f"the map lies outside region {VILLAGE1} (Village 1): it is "),
    ("zh-CN", f"地图不在区域 {VILLAGE1}（Village 1）范围内：距该区域已登记的站点和摄像机 "),
])
def test_the_cli_refuses_it_too_in_the_runs_language(sqlite_vigil, tmp_path, lang, line) -> None:
    build_world(sqlite_vigil)
    url, home = sqlite_vigil.settings.db_url, str(sqlite_vigil.settings.home)
    r = CliRunner().invoke(cli_app, ["plan", str(mapdata("shanghai_shu/map.osm")), "--out", str(tmp_path / "out"),
                                     "--region", VILLAGE1, "--db", url, "--home", home, "--lang", lang])
    assert r.exit_code == 2, r.output
    assert line in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "out").exists()  # refused before planning


@pytest.mark.parametrize(("layer", "status"), [
    (["kunming"], 202),              # a building file of the region
    (["shanghai"], 422),             # a Shanghai extract for a Kunming town
    (["kunming", "shanghai"], 422),  # a folder: every area in it is checked, one outside refuses the plan
    (["kunming", "sites.json"], 202),  # a folder's sidecar is not an area
])
def test_a_city_plan_with_an_area_outside_the_region_is_refused(sqlite_vigil, kunming_community, layer,
                                                                status) -> None:
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    files = {"kunming": ("kunming.geojson", kunming_community.read_bytes()),
             "shanghai": ("shanghai.osm", mapdata("shanghai_shu/map.osm").read_bytes()),
             "sites.json": ("sites.json", b"{}")}
    areas = sqlite_vigil.settings.home / "areas"
    root = areas / "layer" if len(layer) > 1 else areas
    root.mkdir(parents=True)
    for key in layer:
        (root / files[key][0]).write_bytes(files[key][1])
    name = "layer" if len(layer) > 1 else files[layer[0]][0]
    r = c.post("/api/v1/city-plans", json={"region_code": TOWN1, "budget": 20000, "area_name": name}, headers=planner)
    assert r.status_code == status, r.text
    with sqlite_vigil.db.session() as s:
        queued = s.scalar(select(func.count()).select_from(PlanJob))
    if status == 202:
        assert queued == 1 and r.json()["kind"] == "city"
        return
    p = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert p["type"].endswith("/area-outside-region") and p["region_code"] == TOWN1
    assert p["distance_km"] > 1000 and p["margin_km"] == 10.0
    assert p["detail"].startswith(f"the map lies outside region {TOWN1} (") and queued == 0
