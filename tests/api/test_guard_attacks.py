"""Attacks found in review, replayed against the one access guard (issue 8, item 1).

Each test plays a valid low-privilege account in one region and tries to reach another region's
objects through a bulk import, a plan run or a shared catalog entry; each checks that the answer
is the guard's (404 for what the caller may not see, 403 for a shared object it may not change)
and that nothing was stored.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from scopekit import plan_area
from sqlalchemy import select
from typer.testing import CliRunner

from factories import CITY, TOWN1, TOWN2, VILLAGE1, VILLAGE2, build_world
from planjobkit import post_plan
from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.cli import app as cli_app
from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, CameraModel, Region, Site

SIBLING = "53018101202"  # a second village of town 1: same centre code, so its IDs fit village 1 too
MODEL_HEAD = "name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,unit_cost\n"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _csv(text: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("attack.csv", text.encode(), "text/csv")}


@pytest.fixture
def world(vigil):
    """The two-town world, plus a sibling village with a camera and a village-scoped admin."""
    w = build_world(vigil)
    with vigil.db.session() as s:
        s.add(Region(code=SIBLING, name="Village 1b", level=4, parent_code=TOWN1))
        s.flush()
        s.add(Camera(id=generate_device_id(SIBLING, 50).value, name="Sibling gate", region_code=SIBLING,
                     lon=102.713, lat=25.0, lifecycle="in_service"))
        for name, role, region in (("admin-v1", "admin", VILLAGE1), ("planner-city", "planner", CITY)):
            w.tokens[name] = issue_token(s, add_user(s, name, "a-long-password", role, [region]))
    w.cameras["sibling"] = generate_device_id(SIBLING, 50).value
    return vigil, w, TestClient(create_app(vigil), raise_server_exceptions=False)


def _camera(v, cam_id: str) -> tuple:
    with v.db.session() as s:
        c = s.get(Camera, cam_id)
        return c.name, c.region_code, c.lon, c.lat


def test_village_admin_cannot_take_over_a_sibling_villages_camera_by_import(world):
    v, w, c = world
    cam = w.cameras["sibling"]
    before = _camera(v, cam)
    admin = _bearer(w.tokens["admin-v1"])
    for row in (f"{cam},taken over,{VILLAGE1},102.711,25.0",  # moves it into the attacker's village
                f"{cam},renamed,{SIBLING},102.713,25.0",  # changes it where it is
                f"{w.cameras[TOWN2]},taken over,{VILLAGE1},102.711,25.0"):  # another town's, its ID misfits
        r = c.post("/api/v1/import/cameras", files=_csv(f"id,name,region,lon,lat\n{row}\n"), headers=admin)
        assert r.status_code == 404, r.text
        assert r.json()["errors"][0]["field"] in ("id", "region")
    assert _camera(v, cam) == before
    assert _camera(v, w.cameras[TOWN2])[:2] == ("Gate 2", VILLAGE2)
    # an id-less row gets a fresh serial: never the hidden sibling's, though they share the centre code
    r = c.post("/api/v1/import/cameras", files=_csv(f"id,name,region,lon,lat\n,New gate,{VILLAGE1},102.711,25\n"),
               headers=admin)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    with v.db.session() as s:
        new = s.scalar(select(Camera).where(Camera.name == "New gate"))
    assert new.id[:8] == cam[:8] and int(new.id[14:]) > int(cam[14:]) and new.region_code == VILLAGE1


def test_scoped_region_and_site_imports_stay_in_scope(world):
    v, w, c = world
    admin1 = _bearer(w.tokens[TOWN1])
    attacks = [("regions", f"code,name,level,parent\n{TOWN2},Renamed town,3,{CITY}\n"),
               ("regions", f"code,name,level,parent\n{TOWN2}203,Planted village,4,{TOWN2}\n"),
               ("sites", f"name,region,kind\nCommunity 2,{VILLAGE2},school\n"),  # upsert of town 2's site
               ("sites", f"name,region,kind\nPlanted site,{VILLAGE2},school\n")]
    for kind, text in attacks:
        r = c.post(f"/api/v1/import/{kind}", files=_csv(text), headers=admin1)
        assert r.status_code == 404, (kind, r.text)
    with v.db.session() as s:
        assert s.get(Region, TOWN2).name == "Town 2" and s.get(Region, f"{TOWN2}203") is None
        site = s.get(Site, w.sites[TOWN2])
        assert (site.name, site.kind) == ("Community 2", "residential")
        assert s.scalar(select(Site).where(Site.name == "Planted site")) is None
    ok = c.post("/api/v1/import/sites", files=_csv(f"name,region,kind\nOwn site,{VILLAGE1},school\n"), headers=admin1)
    assert ok.status_code == 200 and ok.json()["created"] == 1, ok.text


def test_town_admin_cannot_rewrite_a_model_other_towns_cameras_use(world):
    v, w, c = world
    with v.db.session() as s:
        shared = s.scalar(select(CameraModel).where(CameraModel.name == "Bullet-4MP"))
        own = CameraModel(name="Town1-Dome", h_res_px=1920, v_res_px=1080, hfov_deg=100, vfov_deg=56)
        s.add(own)
        s.flush()
        s.get(Camera, w.cameras[TOWN1]).model_id = shared.id
        s.get(Camera, w.cameras[TOWN2]).model_id = shared.id  # the model is also town 2's
        s.get(Camera, w.cameras["sibling"]).model_id = own.id
    admin1, root = _bearer(w.tokens[TOWN1]), _bearer(w.tokens["root"])
    evil = MODEL_HEAD + "Bullet-4MP,Acme,640,480,10,5,0,bullet,1\n"
    r = c.post("/api/v1/import/models", files=_csv(evil), headers=admin1)
    assert r.status_code == 403, r.text
    assert "used outside your regions" in r.json()["errors"][0]["reason"] and TOWN2 not in r.text
    with v.db.session() as s:
        m = s.scalar(select(CameraModel).where(CameraModel.name == "Bullet-4MP"))
        assert (m.h_res_px, m.hfov_deg, m.unit_cost) == (2560, 90, 900)
    same = MODEL_HEAD + "Bullet-4MP,,2560,1440,90,52,0,bullet,900\n"  # no change: nothing to refuse
    r = c.post("/api/v1/import/models", files=_csv(same), headers=admin1)
    assert r.status_code == 200 and r.json()["unchanged"] == 1, r.text
    mine = MODEL_HEAD + "Town1-Dome,Acme,2560,1440,100,56,20,dome,500\nBrand-new,Acme,1280,720,60,34,0,bullet,90\n"
    r = c.post("/api/v1/import/models", files=_csv(mine), headers=admin1)  # used by town 1 only, and a new one
    assert r.status_code == 200 and (r.json()["updated"], r.json()["created"]) == (1, 1), r.text
    r = c.post("/api/v1/models", json={"name": "Bullet-4MP", "h_res_px": 1, "v_res_px": 1, "hfov_deg": 1,
                                       "vfov_deg": 1}, headers=admin1)
    assert r.status_code == 409  # the API only adds models; it never overwrites one
    r = c.post("/api/v1/import/models", files=_csv(evil), headers=root)  # the prefecture covers every user
    assert r.status_code == 200 and r.json()["updated"] == 1, r.text


def _plan_texts(c: TestClient, v: Vigil, headers: dict[str, str], region: str) -> str:
    form = {"region_code": region, "name": "border plan", "spacing": "8", "time_limit": "5", "existing": "registry"}
    files = {"area": ("border.geojson", plan_area(102.715, 25.0), "application/geo+json")}
    r = post_plan(c, v, data=form, files=files, headers=headers)  # queued as a job, run here
    assert r.status_code == 200 and r.json().get("summary"), r.text
    texts = [r.text]
    for name in ("summary.json", "plan.geojson", "report.html"):
        f = c.get(f"/api/v1/plans/{r.json()['id']}/files/{name}", headers=headers)
        assert f.status_code == 200, f.text
        texts.append(f.text)
    return "\n".join(texts)


def test_plan_with_registry_cameras_holds_only_cameras_of_its_region(world, tmp_path):
    """Both towns' cameras lie within the area's margin; the files show only the plan region's."""
    v, w, c = world
    mine, other = w.cameras[TOWN1], w.cameras[TOWN2]
    blob = _plan_texts(c, v, _bearer(w.tokens[f"planner-{TOWN1}"]), TOWN1)
    assert mine in blob, "the plan did not read the registry: the next check would prove nothing"
    assert other not in blob and TOWN2 not in blob
    # a city planner sees both towns, but a plan recorded for town 1 is read by town 1's planners too
    blob = _plan_texts(c, v, _bearer(w.tokens["planner-city"]), TOWN1)
    assert mine in blob and other not in blob
    # the CLI on the instance: a plan recorded for a region holds only that region's cameras
    area = tmp_path / "border.geojson"
    area.write_bytes(plan_area(102.715, 25.0))
    out = tmp_path / "cli-plan"
    r = CliRunner().invoke(cli_app, ["plan", str(area), "--out", str(out), "--existing", "registry", "--spacing",
                                     "8", "--time-limit", "5", "--region", TOWN1, "--db", v.settings.db_url,
                                     "--home", str(v.settings.home)])
    assert r.exit_code == 0, r.output
    ids = {f["properties"]["id"] for f in json.loads((out / "plan.geojson").read_text())["features"]}
    assert mine in ids and other not in ids
