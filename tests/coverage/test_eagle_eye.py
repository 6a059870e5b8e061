"""Eagle-eye high points: PTZ tours counted by dwell time, 2.5-D occlusion, and the independent sight-line check."""

import json

import numpy as np
import pytest
import shapely
from covkit import mapdata, poly, write_geojson
from fastapi.testclient import TestClient
from scipy import sparse
from sqlalchemy import select
from typer.testing import CliRunner

from factories import TOWN1, VILLAGE1, build_world
from planjobkit import post_plan
from vigil.access.bootstrap import init_instance
from vigil.api.app import create_app
from vigil.cli import app as cli_app
from vigil.core.errors import InputError
from vigil.core.models import Camera, CameraKind
from vigil.coverage.apply import apply_plan
from vigil.coverage.candidates import CandidateOptions, make_candidates
from vigil.coverage.geo import Buildings, LocalFrame, load_buildings, osm_towers
from vigil.coverage.models import PlanRecord
from vigil.coverage.optics import CameraSpec, Catalog, catalog_from_dict, level_ppm, load_catalog
from vigil.coverage.plan import PlanRequest, run_plan
from vigil.coverage.service import request_from_inputs
from vigil.coverage.sightline import HeightMap, clear_sight, verify_claims
from vigil.coverage.visibility import Obstacles, Poses, Targets, coverage_matrix, visible_mask
from vigil.demo.city import map_data_dir
from vigil.demo.coverage import town_centre_area

TOUR4 = {"name": "tour4", "h_res_px": 3840, "v_res_px": 2160, "hfov_deg": 30, "presets": 4, "dwell_s": 10,
         "move_s": 2, "cost": 16000, "mounts": ["rooftop", "tower"]}


def _poses(xy, h, heading, tilt, model) -> Poses:
    n = len(xy)
    return Poses(np.asarray(xy, float), np.full(n, h), np.asarray(heading, float), np.asarray(tilt, float),
                 np.asarray(model, np.int64), np.full(n, "rooftop", dtype=object), np.ones(n), np.zeros(n, bool),
                 np.full(n, "", dtype=object))


def _ring(r: float, step_deg: float = 5.0) -> Targets:
    a = np.radians(np.arange(step_deg / 2, 360, step_deg))  # no target exactly on a preset edge
    xy = np.column_stack([r * np.sin(a), r * np.cos(a)])  # bearing = the angle, clockwise from north
    n = len(xy)
    return Targets(xy, np.full(n, 25.0), np.zeros(n, np.int64), np.full(n, "ground", dtype=object))


def test_tour_counts_a_target_only_for_its_dwell_fraction():
    tour4 = CameraSpec.from_dict(TOUR4)
    tour2 = CameraSpec.from_dict({**TOUR4, "name": "tour2", "presets": 2})
    assert tour4.tour_period_s == 48 and tour4.dwell_fraction == pytest.approx(10 / 48)
    assert tour2.dwell_fraction == pytest.approx(10 / 24)
    assert tour4.preset_headings(90.0) == [45.0, 75.0, 105.0, 135.0]
    t = _ring(60.0)
    bearing = np.degrees(np.arctan2(t.xy[:, 0], t.xy[:, 1])) % 360
    poses = _poses([(0, 0), (0, 0)], 20.0, [90.0, 90.0], [18.0, 18.0], [0, 1])
    obst = Obstacles.build(np.array([], dtype=object), np.array([]))
    a, _, _ = coverage_matrix(poses, t, obst, [tour4, tour2], 25.0, min_dwell=0.2)
    a = a.toarray()
    # four presets of 30° tile 30°..150°; two tile 60°..120°
    assert np.array_equal(a[:, 0], (bearing >= 30) & (bearing <= 150))
    assert np.array_equal(a[:, 1], (bearing >= 60) & (bearing <= 120))
    # in view 21 % of the time: below a 25 % threshold the long tour covers nothing, the short one still does
    b, _, _ = coverage_matrix(poses, t, obst, [tour4, tour2], 25.0, min_dwell=0.25)
    assert b[:, 0].nnz == 0 and b[:, 1].nnz == a[:, 1].sum()


def test_catalog_validates_tours_and_keeps_high_models_off_ground_mounts():
    with pytest.raises(InputError, match="preset tour"):
        CameraSpec.from_dict({**TOUR4, "dwell_s": 0})
    with pytest.raises(InputError, match="min_dwell_fraction"):
        catalog_from_dict({"models": [TOUR4], "min_dwell_fraction": 1.5})
    cat = load_catalog()
    high = [m for m in cat.models if {"rooftop", "tower"} & set(m.mounts)]
    assert {m.form_factor for m in high} >= {"panoramic", "ptz"}
    assert any(m.presets > 1 for m in high) and all(m.cost >= 10000 for m in high)
    # the new models go on high mounts only, so plans without --eagle-eye are unchanged
    ground = {i for mount in ("wall", "pole", "entrance") for i in cat.for_mount(mount)}
    assert all(cat.models.index(m) not in ground for m in high)


def _scene(heights: list[float]) -> Buildings:
    """A 20 x 20 m roof at the origin and, east of it, blocks of the given heights 40 m apart."""
    polys = [shapely.box(-10, -10, 10, 10)] + [shapely.box(40 * k + 30, -15, 40 * k + 45, 15)
                                                for k in range(len(heights) - 1)]
    n = len(polys)
    return Buildings(np.array(polys, dtype=object), np.array(heights, float), [str(i) for i in range(n)],
                     [""] * n, ["town"] * n)


@pytest.mark.parametrize(("blocker_h", "seen"), [(12.0, True), (45.0, False)])
def test_high_point_sees_over_lower_roofs_not_behind_taller(blocker_h, seen):
    b = _scene([30.0, blocker_h])
    cam = (9.0, 0.0, 33.0)  # a post 1 m inside the east edge of the 30 m roof
    tx, ty = np.array([80.0]), np.array([0.0])  # 35 m behind the block (x 30..45)
    obst = Obstacles.build(b.polygons, b.heights)
    hm = HeightMap.rasterise(b.polygons, b.heights, cell=0.25)
    assert visible_mask(obst, *cam, tx, ty).tolist() == [seen]
    assert clear_sight(hm, *cam, tx, ty).tolist() == [seen]
    # and the roof's own edge hides the ground right under it
    near = np.array([12.0]), np.array([0.0])
    assert visible_mask(obst, *cam, *near).tolist() == [False] and clear_sight(hm, *cam, *near).tolist() == [False]


def test_check_catches_a_planner_that_ignores_heights():
    """A wrong planner (every building as high as the sky) and one blind to heights are both caught."""
    b = _scene([20.0, 45.0])  # the camera (23 m) is below the 45 m block
    hm = HeightMap.rasterise(b.polygons, b.heights, cell=0.25)
    t = Targets(np.array([[60.0, 0.0], [60.0, 30.0], [-40.0, 0.0]]), np.full(3, 25.0), np.zeros(3, np.int64),
                np.full(3, "ground", dtype=object))
    poses = _poses([(0, 0)], 23.0, [0.0], [np.nan], [0])
    pano = CameraSpec.from_dict({"name": "pano", "h_res_px": 15360, "v_res_px": 2160, "hfov_deg": 360,
                                 "vfov_deg": 120, "cost": 1})
    right, _, _ = coverage_matrix(poses, t, Obstacles.build(b.polygons, b.heights), [pano], 25.0)
    flat = Obstacles.build(b.polygons, np.zeros(2))  # walls of no height: sees behind the tall block
    wrong, _, _ = coverage_matrix(poses, t, flat, [pano], 25.0)
    kw = dict(cam_xy=poses.xy, cam_h=poses.height, specs=[pano], models=poses.model, target_xy=t.xy,
              target_ppm=t.ppm, hm=hm)
    assert right[0, 0] == 0 and wrong[0, 0] == 1  # (60, 0) is behind the 45 m block
    ok = verify_claims(right, [0], **kw)
    bad = verify_claims(wrong, [0], **kw)
    assert ok.agreement == 1.0 and ok.pairs == right.nnz
    assert (0, 0) in bad.refuted and bad.agreement < 1.0


def test_sight_line_check_agrees_on_the_real_town_centre(tmp_path):
    area = town_centre_area(map_data_dir(), tmp_path / "centre.geojson")
    b, _ = load_buildings(area)
    cat = load_catalog()
    ppm = level_ppm("detect")
    site = shapely.box(*shapely.total_bounds(b.polygons)).buffer(20)
    cand = make_candidates(b, cat, roads=[], grounds=[], entrances=[], area=site,
                           opts=CandidateOptions(eagle_eye=True, ppm=ppm, rooftops=4, headings=4))
    high = np.flatnonzero(cand.mount == "rooftop")
    assert len(high) > 50 and cand.height[high].min() > 20
    cand = cand.take(high[::8])
    gx, gy = np.meshgrid(*(np.arange(lo, hi, 6.0) for lo, hi in zip(site.bounds[:2], site.bounds[2:], strict=True)))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    xy = xy[~shapely.contains_xy(shapely.union_all(b.polygons).buffer(0.5), xy[:, 0], xy[:, 1])]
    t = Targets(xy, np.full(len(xy), ppm), np.zeros(len(xy), np.int64), np.full(len(xy), "ground", dtype=object))
    a, _, _ = coverage_matrix(cand, t, Obstacles.build(b.polygons, b.heights), list(cat.models), ppm)
    hm = HeightMap.rasterise(b.polygons, b.heights, cell=0.25)
    kw = dict(cam_xy=cand.xy, cam_h=cand.height, specs=list(cat.models), models=cand.model, target_xy=t.xy,
              target_ppm=t.ppm, hm=hm)
    chk = verify_claims(a, range(len(cand)), **kw)
    assert chk.pairs > 5000 and chk.agreement >= 0.99
    # heights ignored (walls of no height) claims sight behind taller buildings: the check refutes it
    wrong, _, _ = coverage_matrix(cand, t, Obstacles.build(b.polygons, np.zeros(len(b))), list(cat.models), ppm)
    rows, cols = sparse.find(wrong.astype(np.int8) - a.astype(np.int8) > 0)[:2]
    assert len(rows) > 1000
    pick = np.random.default_rng(7).choice(len(rows), 3000, replace=False)  # a sample keeps the test short
    extra = sparse.csc_matrix((np.ones(3000, bool), (rows[pick], cols[pick])), shape=a.shape)
    assert verify_claims(extra, range(len(cand)), **kw).agreement < 0.05


def test_osm_towers_become_tower_sites(tmp_path):
    osm = tmp_path / "town.osm"
    nodes = [(1, 25.0690, 102.7210), (2, 25.0690, 102.7212), (3, 25.0692, 102.7212), (4, 25.0692, 102.7210),
             (9, 25.0700, 102.7220)]
    osm.write_text('<?xml version="1.0"?><osm version="0.6">'
                   + "".join(f'<node id="{i}" lat="{la}" lon="{lo}" version="1"/>' for i, la, lo in nodes[:4])
                   + '<node id="9" lat="25.0700" lon="102.7220" version="1"><tag k="man_made" v="mast"/>'
                     '<tag k="height" v="40"/></node>'
                   + '<way id="5" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
                     '<tag k="building" v="yes"/><tag k="height" v="12"/></way></osm>')
    b, frame = load_buildings(osm)
    towers = osm_towers(osm, frame)
    assert [t.props["height"] for t in towers] == [40.0]
    cat = Catalog((CameraSpec.from_dict(TOUR4),))
    site = shapely.box(*shapely.total_bounds([t.geom for t in towers])).buffer(50)
    cand = make_candidates(b, cat, roads=[], grounds=[], entrances=[], area=site, towers=towers,
                           opts=CandidateOptions(eagle_eye=True, ppm=25.0, headings=4))
    assert set(cand.mount) == {"tower"} and np.allclose(cand.height, 38.0)
    assert len(cand) == 4 * 3  # four tour headings x three aims
    assert osm_towers(mapdata("wuhan_tilezen/roads.geojson"), LocalFrame.around(114.3, 30.6)) == []


@pytest.fixture
def small_centre(tmp_path):
    """A small town centre where the rooftop tour is the cheap choice (the ground camera costs 90 000)."""
    lon0, lat0, k = 102.7210, 25.0690, 1 / 100_000
    feats = [poly([(lon0, lat0), (lon0 + 20 * k, lat0), (lon0 + 20 * k, lat0 + 20 * k), (lon0, lat0 + 20 * k)],
                  height=24, community="centre")]
    feats += [poly([(lon0 + dx * k, lat0 + dy * k), (lon0 + (dx + 8) * k, lat0 + dy * k),
                    (lon0 + (dx + 8) * k, lat0 + (dy + 8) * k), (lon0 + dx * k, lat0 + (dy + 8) * k)],
                   height=9, community="centre") for dx, dy in ((-60, -60), (70, -60), (-60, 70), (70, 70))]
    area = write_geojson(tmp_path / "centre.geojson", feats)
    cat = tmp_path / "catalog.yaml"
    cat.write_text("models:\n  - {name: bullet, h_res_px: 2560, v_res_px: 1440, hfov_deg: 90, cost: 90000,"
                   " mounts: [wall, pole]}\n"
                   f"  - {json.dumps(TOUR4)}\n")
    return area, cat


def test_eagle_eye_plan_reports_its_high_points(small_centre, tmp_path):
    area, cat = small_centre
    res = run_plan(PlanRequest(area=area, catalog=cat, level="detect", eagle_eye=True, solver="greedy",
                               spacing=8), tmp_path / "out")
    hp = res.summary["high_points"]
    assert hp["chosen"] and {r["mount"] for r in hp["chosen"]} == {"rooftop"}
    assert all(r["presets"] == 4 and r["dwell_fraction"] == pytest.approx(0.208, abs=1e-3) for r in hp["chosen"])
    assert hp["los_check"]["agreement"] >= 0.99 and hp["los_check"]["chosen_pairs"] > 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Eagle-eye high points" in page and hp["chosen"][0]["id"] in page
    ids = {f["properties"]["id"]: f["properties"]["mount"]
           for f in json.loads((tmp_path / "out" / "plan.geojson").read_text())["features"]}
    assert all(ids[r["id"]] == "rooftop" for r in hp["chosen"])
    plain = run_plan(PlanRequest(area=area, catalog=cat, level="detect", solver="greedy", spacing=8), tmp_path / "o2")
    assert "high_points" not in plain.summary and not set(plain.poses.mount) & {"rooftop", "tower"}


def test_cli_eagle_eye_and_apply_as_high_points(small_centre, tmp_path, sqlite_vigil):
    area, cat = small_centre
    out = tmp_path / "cli"
    r = CliRunner().invoke(cli_app, ["plan", str(area), "--out", str(out), "--catalog", str(cat), "--level", "detect",
                                     "--eagle-eye", "--solver", "greedy", "--spacing", "8"])
    assert r.exit_code == 0, r.output
    assert "high points:" in r.output and "tour4" in r.output
    init_instance(sqlite_vigil, root_code="5301", root_name="Kunming")
    with sqlite_vigil.db.session() as s:
        ids = apply_plan(s, out, region_code="5301", actor="test")
        kinds = {c.height_m > 20: c.kind for c in s.scalars(select(Camera).where(Camera.id.in_(ids)))}
    assert kinds[True] == CameraKind.HIGH_POINT  # the rooftop tour (27 m) is a high-point camera


@pytest.mark.slow
def test_demo_plans_its_town_centre_with_high_points(sqlite_vigil):
    from vigil.demo.city import build_demo_city
    from vigil.demo.coverage import plan_demo_town, plan_demo_town_centre
    from vigil.health.kpi import compute_kpis

    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="昆明市")
    build_demo_city(v, cameras=2000)
    centre = plan_demo_town_centre(v)
    town = plan_demo_town(v)
    hp = centre["high_points"]
    assert centre["level"] == "detect" and hp["chosen"] and hp["los_check"]["agreement"] >= 0.99
    assert all(r["los_confirmed"] >= 0.99 * r["targets"] for r in hp["chosen"])
    page = (v.settings.home / "plans" / "demo-jinjiang-centre" / "report.html").read_text()
    assert "Eagle-eye high points" in page
    with v.db.session() as s:  # the communities' Observe plan stays the coverage KPI
        kpi = compute_kpis(s, "53018101", period="1d").regions[0]
    assert abs(kpi.coverage_rate - town["coverage_before"]) < 0.05


def test_api_job_carries_eagle_eye_into_the_plan(small_centre, sqlite_vigil):
    area, _ = small_centre
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    form = {"region_code": VILLAGE1, "spacing": "8", "time_limit": "5", "level": "detect", "solver": "greedy",
            "eagle_eye": "true"}
    plan = post_plan(c, sqlite_vigil, data=form, headers=planner,
                     files={"area": ("centre.geojson", area.read_bytes(), "application/geo+json")})
    assert plan.status_code == 200, plan.text
    s = plan.json()["summary"]
    assert s["eagle_eye"] is True and s["high_points"]["candidates"]["rooftop"] > 0
    assert s["high_points"]["los_check"]["agreement"] >= 0.99
    with sqlite_vigil.db.session() as sess:  # a re-measure of its sites plans them the same way
        rec = sess.get(PlanRecord, plan.json()["id"])
        assert request_from_inputs(rec.inputs).eagle_eye is True
