"""The city plan end to end on real Kunming compounds: curves, existing cameras, the report, the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from covkit import mapdata, write_geojson
from fastapi.testclient import TestClient
from shapely.geometry import mapping, shape
from typer.testing import CliRunner

from factories import TOWN1, TOWN2, build_world
from planjobkit import run_queued
from vigil.api.app import create_app
from vigil.cli import app as cli_app
from vigil.core.models import Camera, Site
from vigil.coverage.apply import record_plan
from vigil.coverage.city import CityOptions, run_city, site_curve
from vigil.coverage.city_report import CITY_FILES
from vigil.coverage.city_sites import CitySite, sites_from_folder
from vigil.coverage.geo import Feature
from vigil.coverage.models import PlanRecord

runner = CliRunner()
SMALL = ("23号庭院", "赢城洋楼")  # two real compounds of two buildings each
FAST = CityOptions(budget=30_000, steps=(0.5, 1.0), point_time_limit=1.0, spacing=8)


def _compound(name: str) -> list[dict]:
    src = json.loads(mapdata("kunming_jinjiang/buildings.geojson").read_text())
    return [f for f in src["features"] if f["properties"].get("community") == name]


def _hull(feats: list[dict]) -> shapely.Geometry:
    return shapely.union_all([shape(f["geometry"]) for f in feats]).convex_hull.buffer(0.0001)


@pytest.fixture(scope="module")
def areas(tmp_path_factory):
    d = tmp_path_factory.mktemp("areas")
    for i, name in enumerate(SMALL):
        write_geojson(d / f"c{i}.geojson", _compound(name))
    (d / "sites.json").write_text(json.dumps({"c0": {"name": SMALL[0], "protection_class": 1, "households": 120},
                                              "c1": {"name": SMALL[1]}},
                                             ensure_ascii=False))
    (d / "notes.txt").write_text("not an area")
    return d


@pytest.fixture(scope="module")
def city(areas, tmp_path_factory):
    sites, skipped = sites_from_folder(areas)
    stages = []
    out = tmp_path_factory.mktemp("city")
    plan = run_city(sites, FAST, out, progress=lambda s, f: stages.append((s, f)), skipped=skipped)
    return plan, out, stages


def test_folder_sites_carry_the_sidecar(areas):
    sites, skipped = sites_from_folder(areas)
    assert [s.name for s in sites] == list(SMALL) and not skipped
    assert sites[0].protection_class == 1 and sites[0].households == 120 and sites[1].protection_class == 2


def test_city_plan_stays_within_budget_and_ranks_packages(city):
    plan, _, stages = city
    s = plan.summary
    assert s["cost_new"] <= FAST.budget and s["cameras_new"] > 0
    assert s["coverage_after"] > s["coverage_before"] == 0
    assert stages[0] == ("curves", 0.0) and stages[-1] == ("report", 1.0)
    assert [st for st, _ in stages].index("allocate") > [st for st, _ in stages].index("curves")
    for c in plan.curves:  # each curve climbs from "do nothing" to full coverage of what can be seen
        assert c.points[0].cost == 0 and c.points[-1].coverage == pytest.approx(c.coverable)
        assert all(p.lower_bound <= p.cost for p in c.points)
    pk = s["packages"]
    gains = [p["weighted_gain"] / p["cost"] for p in pk]
    assert gains == sorted(gains, reverse=True) and [p["rank"] for p in pk] == list(range(1, len(pk) + 1))
    assert sum(p["cost"] for p in pk) == pytest.approx(s["cost_new"])
    assert all(sum(p["models"].values()) == p["cameras"] for p in pk)
    assert s["weighted_gain"] <= s["bound"] + 1e-9 and s["uniform"]["weighted_gain"] <= s["weighted_gain"] + 1e-9
    assert all("marginal_yuan_per_point" in r for r in s["site_table"])


def test_report_files_hold_map_chart_and_both_languages(city):
    plan, out, _ = city
    for name in CITY_FILES:
        assert (out / name).stat().st_size > 0, name
    for lang in ("zh", "en"):
        assert (out / f"map.{lang}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"report.{lang}.pdf").read_bytes()[:5] == b"%PDF-"
        page = (out / f"report.{lang}.html").read_text()
        assert f'src="map.{lang}.png"' in page and f'src="curve.{lang}.png"' in page and SMALL[0] in page
    assert "工程包" in (out / "report.zh.html").read_text()
    assert "Work packages" in (out / "report.en.html").read_text()
    feats = json.loads((out / "packages.geojson").read_text())["features"]
    assert len(feats) == plan.summary["cameras_new"] and {f["properties"]["site"] for f in feats} <= set(SMALL)


def test_existing_cameras_are_fixed_and_reduce_cost(areas, tmp_path):
    site = sites_from_folder(areas)[0][1]
    bare = site_curve(site, FAST, tmp_path / "bare")
    full = bare.points[-1]
    cams = tuple(Feature(shapely.Point(c["lon"], c["lat"]), {"id": f"old-{i}", "model": c["model"],
                                                              "height_m": c["height_m"], "heading_deg": c["heading_deg"]})
                 for i, c in enumerate(full.cameras[: len(full.cameras) // 2]))
    with_old = CitySite(key=site.key, name=site.name, area=site.area, existing=cams, outline=site.outline)
    fixed = site_curve(with_old, FAST, tmp_path / "fixed")
    assert fixed.cameras_existing == len(cams) > 0
    assert fixed.before > 0 and fixed.points[0].coverage == fixed.before
    assert fixed.points[-1].cost < full.cost  # the cameras already there are not bought again


@pytest.mark.parametrize("args,msg", [
    (["--budget", "1000"], "give either --areas"),
    (["--budget", "1000", "--areas", "{tmp}/none"], "not a folder of areas"),
    (["--budget", "-5", "--areas", "{areas}"], "non-negative"),
    (["--budget", "1000", "--areas", "{areas}", "--steps", "0.5,2"], "steps must be shares"),
    (["--budget", "1000", "--areas", "{areas}", "--steps", "half"], "--steps"),
    (["--budget", "1000", "--buildings", "{areas}/c0.geojson"], "--buildings needs --region"),
    (["--budget", "1000", "--areas", "{areas}", "--region", "5301"], "use it with --buildings"),
    (["--budget", "1000", "--areas", "{tmp}"], "no area files"),
])
def test_cli_bad_input_is_one_clear_error(args, msg, areas, tmp_path):
    argv = [a.format(tmp=tmp_path, areas=areas) for a in args]
    r = runner.invoke(cli_app, ["plan", "city", "--out", str(tmp_path / "o"), *argv])
    assert r.exit_code == 2, r.output
    assert msg in r.output and "Traceback" not in r.output


def test_cli_plans_a_folder(areas, tmp_path):
    r = runner.invoke(cli_app, ["plan", "city", "--areas", str(areas), "--budget", "20000", "--out",
                                str(tmp_path / "o"), "--steps", "1", "--time-limit", "1", "--spacing", "8"])
    assert r.exit_code == 0, r.output
    assert "curves" in r.output and "report.zh.html" in r.output
    assert json.loads((tmp_path / "o" / "city.json").read_text())["cost_new"] <= 20000


def _registry_world(v):
    """Town 1's site on one compound, town 2's on the other; town 1's camera stands inside its site."""
    w = build_world(v)
    feats = {n: _compound(n) for n in SMALL}
    with v.db.session() as s:
        for town, name in zip((TOWN1, TOWN2), SMALL, strict=True):
            hull = _hull(feats[name])
            site = s.get(Site, w.sites[town])
            site.geometry = mapping(hull)
            cam = s.get(Camera, w.cameras[town])
            cam.lon, cam.lat, cam.height_m = hull.centroid.x, hull.centroid.y, 4.0
    areas = v.settings.home / "areas"
    areas.mkdir(parents=True, exist_ok=True)
    write_geojson(areas / "city.geojson", feats[SMALL[0]] + feats[SMALL[1]])
    return w


def test_api_city_plan_is_scoped_to_the_planners_region(vigil):
    w = _registry_world(vigil)
    a = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    b = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN2}']}"}
    body = {"region_code": TOWN1, "budget": 20000, "area_name": "city.geojson", "steps": [0.5, 1],
            "point_time_limit": 1, "spacing": 8}
    with TestClient(create_app(vigil)) as c:
        r = c.post("/api/v1/city-plans", json=body, headers=a)
        assert r.status_code == 202, r.text  # queued in the plan job queue, answered at once
        job = r.json()
        assert job["kind"] == "city" and job["state"] == "queued" and r.headers["location"] == job["url"]
        assert "/input/" not in r.text and "city.geojson" not in r.text  # stored paths stay on the server
        for url in (job["url"], job["events_url"]):  # another town's planner: 404 like a missing job
            assert c.get(url, headers=b).status_code == 404
        assert c.post(job["url"] + "/cancel", headers=b).status_code == 404
        assert c.get("/api/v1/plans/jobs", headers=b).json()["items"] == []
        assert run_queued(vigil) == ["done"]  # the runner prices the sites in its spawned process
        done = c.get(job["url"], headers=a).json()
        assert done["state"] == "done" and done["percent"] == 100 and done["plan_id"], done
        stages = [(e["stage"], e["event"]) for e in done["events"]]
        assert stages == [(st, ev) for st in ("sites", "curves", "allocate", "report") for ev in ("start", "done")]
        pcts = [e["percent"] for e in done["events"]]
        assert pcts == sorted(pcts) and pcts[-1] == 100
        assert done["plan_url"] == f"/api/v1/city-plans/{done['plan_id']}"
        r = c.get(done["plan_url"], headers=a)
        plan = r.json()
        assert plan["summary"]["mode"] == "city" and plan["region_code"] == TOWN1
        # the per-area Plans list shows no city plan (its detail page would lack map.png), but per-area plans
        with vigil.db.session() as s:
            area_plan = record_plan(s, {"level": "observe"}, vigil.settings.home, region_code=TOWN1,
                                    created_by=f"planner-{TOWN1}", name="one area").id
        listed = [p["id"] for p in c.get("/api/v1/plans", headers=a).json()["items"]]
        assert listed == [area_plan]
        names = [row["name"] for row in plan["summary"]["site_table"]]
        assert names == ["Community 1"]  # town 2's site is not even read
        assert plan["summary"]["cameras_existing"] == 1 and plan["coverage_before"] > 0
        assert "Community 2" not in r.text and TOWN2 not in r.text
        assert c.post("/api/v1/city-plans", json={**body, "region_code": TOWN2}, headers=a).status_code == 404
        assert c.get(f"/api/v1/city-plans/{plan['id']}", headers=b).status_code == 404
        assert c.get(f"/api/v1/city-plans/{plan['id']}/files/report.en.html", headers=b).status_code == 404
        assert [p["id"] for p in c.get("/api/v1/city-plans", headers=a).json()["items"]] == [plan["id"]]
        assert c.get("/api/v1/city-plans", headers=b).json()["items"] == []
        f = c.get(f"/api/v1/city-plans/{plan['id']}/files/report.en.html", headers=a)
        assert f.status_code == 200 and "Community 1" in f.text
        assert c.get(f"/api/v1/city-plans/{plan['id']}/files/secret.txt", headers=a).status_code == 404
        assert c.get(f"/api/v1/city-plans/{plan['id']}/files/report.html", headers=a).status_code == 404  # a plan's name
        with vigil.db.session() as s:
            (Path(s.get(PlanRecord, plan["id"]).out_dir) / "curve.en.png").unlink()
        gone = c.get(f"/api/v1/city-plans/{plan['id']}/files/curve.en.png", headers=a)
        assert gone.status_code == 404 and f"of city plan {plan['id']} is gone" in gone.text
        assert c.post("/api/v1/city-plans", json={**body, "area_name": "../../etc"}, headers=a).status_code == 404
        assert c.post("/api/v1/city-plans", json={**body, "budget": -1}, headers=a).status_code == 422


def test_a_cancelled_city_plan_stops_before_pricing(areas, tmp_path):
    from vigil.coverage.city import CityPlanCancelled

    sites, _ = sites_from_folder(areas)
    seen = []
    with pytest.raises(CityPlanCancelled):
        run_city(sites, FAST, tmp_path / "out", progress=lambda s, f: seen.append(s), cancelled=lambda: True)
    assert seen == ["curves"] and not (tmp_path / "out" / "city.json").exists()


def test_a_running_city_plan_job_is_cancelled_and_records_nothing(sqlite_vigil):
    import multiprocessing
    import threading
    import time

    from sqlalchemy import select

    from vigil.access.users import Principal
    from vigil.core.models import Role
    from vigil.coverage import jobs
    from vigil.coverage.models import PlanJob, PlanRecord
    from vigil.coverage.runner import PlanJobService

    _registry_world(sqlite_vigil)
    p = Principal(1, "planner", Role.ADMIN, ("5301",))
    with sqlite_vigil.db.session() as s:
        jid = jobs.submit_city_job(s, p, TOWN1, CityOptions(budget=20_000, point_time_limit=1, spacing=8),
                                   sqlite_vigil.settings.home / "areas" / "city.geojson",
                                   work_dir=sqlite_vigil.settings.home / "plans" / "city-cancel").id
    result: list[str | None] = []
    runner = PlanJobService(sqlite_vigil, runner="t")
    t = threading.Thread(target=lambda: result.append(runner.run_once()))
    t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the sites are read: the pricing process is starting
        with sqlite_vigil.db.session() as s:
            if ("sites", "done") in [(e["stage"], e["event"]) for e in s.get(PlanJob, jid).events]:
                break
        time.sleep(0.05)
    with sqlite_vigil.db.session() as s:
        assert jobs.cancel_job(s, p, jid).state == "running"  # asked; the runner ends it
    t.join(60)
    assert result == ["cancelled"]
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("vigil-city-plan-")]
    with sqlite_vigil.db.session() as s:
        job = s.get(PlanJob, jid)
        assert job.state == "cancelled" and job.plan_id is None
        assert s.scalars(select(PlanRecord)).all() == []
    assert not (sqlite_vigil.settings.home / "plans" / "city-cancel").exists()  # the sites' inputs went with it


def test_a_city_plan_job_held_by_a_dead_server_is_requeued_and_then_done(sqlite_vigil):
    from vigil.access.users import Principal
    from vigil.core.models import Role
    from vigil.coverage import jobs
    from vigil.coverage.models import PlanJob

    _registry_world(sqlite_vigil)
    p = Principal(1, "planner", Role.ADMIN, ("5301",))
    with sqlite_vigil.db.session() as s:
        jid = jobs.submit_city_job(s, p, TOWN1, CityOptions(budget=20_000, steps=(1.0,), point_time_limit=1, spacing=8),
                                   sqlite_vigil.settings.home / "areas" / "city.geojson",
                                   work_dir=sqlite_vigil.settings.home / "plans" / "city-restart").id
    with sqlite_vigil.db.session() as s:
        assert jobs.claim_next(s, "killed-server").id == jid  # it was running when its server was killed
    with sqlite_vigil.db.session() as s:
        assert jobs.requeue_orphans(s, runner="killed-server") == [jid]  # that server starting again
    assert run_queued(sqlite_vigil) == ["done"]
    with sqlite_vigil.db.session() as s:
        job = s.get(PlanJob, jid)
        assert job.attempts == 2 and job.plan_id is not None
        assert [e["event"] for e in job.events][0] == "requeued"
        assert jobs.job_json(job)["plan_url"] == f"/api/v1/city-plans/{job.plan_id}"
    work = sqlite_vigil.settings.home / "plans" / "city-restart"  # the report stays; sites' inputs and studies go
    assert sorted(p.name for p in work.iterdir()) == sorted(CITY_FILES)
