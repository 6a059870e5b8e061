"""Coverage kept current: a camera put in service, moved or retired re-measures its site, debounced; KPI trend."""

import json
from datetime import timedelta

import pytest
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import select

from factories import VILLAGE1, build_world
from vigil.access.users import Principal
from vigil.core.models import Camera, CameraModel, Role, Site, utcnow
from vigil.coverage.apply import record_plan, registry_cameras
from vigil.coverage.current import CoverageRefresher, measure_sites
from vigil.coverage.models import SiteCoverage
from vigil.coverage.plan import PlanRequest, run_plan
from vigil.coverage.service import request_inputs
from vigil.health.kpi import compute_kpis, coverage_at, kpi_timeline
from vigil.registry.cameras import update_camera
from vigil.registry.schemas import CameraPatch

NAME = "金色年华"
DEBOUNCE = 10.0
ADMIN = Principal(1, "admin-test", Role.ADMIN, ("5301",))


@pytest.fixture()
def tracked(vigil, kunming_community, one_model, tmp_path):
    """A site with a recorded plan (no camera yet) and an installed camera on one of its targets."""
    v = vigil
    build_world(v)
    hull = shapely.union_all([shape(f["geometry"]) for f in
                              json.loads(kunming_community.read_text())["features"]]).convex_hull
    req = PlanRequest(area=kunming_community, catalog=one_model, spacing=8, solver="greedy", level="detect")
    res = run_plan(req, tmp_path / "plan")
    with v.db.session() as s:
        site = Site(name=NAME, kind="residential", region_code=VILLAGE1, geometry=mapping(hull),
                    lon=hull.centroid.x, lat=hull.centroid.y)
        s.add(site)
        s.flush()
        record_plan(s, res.summary, tmp_path / "plan", region_code=VILLAGE1, created_by="t", inputs=request_inputs(req))
        spot = json.loads((tmp_path / "plan" / "targets.geojson").read_text())["features"][0]["geometry"]["coordinates"]
        model = s.scalar(select(CameraModel).where(CameraModel.name == "Bullet-4MP"))
        cam = Camera(id="53018101201320000901", name="new gate", region_code=VILLAGE1, site_id=site.id,
                     lon=spot[0], lat=spot[1], height_m=6.0, heading_deg=90.0, tilt_deg=20.0, model_id=model.id,
                     lifecycle="installed")
        s.add(cam)
        site_id = site.id
    assert res.summary["communities"][0]["coverage_before"] == 0
    return v, site_id, cam.id, req


def _rows(v, site_id):
    with v.db.session() as s:
        return [(r.source, r.coverage, r.cameras) for r in s.scalars(
            select(SiteCoverage).where(SiteCoverage.site_id == site_id).order_by(SiteCoverage.id))]


def _patch(v, cam_id, **kw):
    with v.db.session() as s:
        update_camera(s, ADMIN, cam_id, CameraPatch(**kw), v.box)


def test_put_in_service_moved_and_retired_each_remeasure_the_site(tracked):
    v, site_id, cam_id, req = tracked
    r = CoverageRefresher(v, debounce_s=DEBOUNCE)
    assert r.refresh_once(now=0) == []  # the plan's row adopts the cameras of now as its baseline
    _patch(v, cam_id, lifecycle="in_service")
    assert r.refresh_once(now=100) == []  # queued, not yet quiet for the debounce time
    assert r.refresh_once(now=100 + DEBOUNCE) == [site_id]
    (_, before, _), (src, after, n) = _rows(v, site_id)
    assert before == 0 and src == "refresh" and n == 1 and after > 0
    with v.db.session() as s:  # the same reading the planner makes of the same camera
        cams = registry_cameras(s, req.area, scope=ADMIN.scope)
        assert len(cams) == 1
        assert measure_sites(req, cams)[NAME][1] == after
        assert compute_kpis(s, VILLAGE1, period="1d").regions[0].coverage_rate == after  # the KPI follows
    assert r.refresh_once(now=500) == []  # nothing changed: nothing re-measured

    with v.db.session() as s:  # a move through a bulk write (no ORM object): the refresher still sees it
        s.execute(Camera.__table__.update().where(Camera.id == cam_id).values(
            lon=Camera.lon + 0.0002, updated_at=utcnow() + timedelta(seconds=1)))
    assert r.refresh_once(now=600) == []
    _patch(v, cam_id, heading_deg=270.0)  # changed again within the quiet time: the wait starts over
    assert r.refresh_once(now=605) == []
    assert r.refresh_once(now=600 + DEBOUNCE) == []
    assert r.refresh_once(now=605 + DEBOUNCE) == [site_id]  # one measurement for the burst
    assert len(_rows(v, site_id)) == 3

    _patch(v, cam_id, lifecycle="retired")
    r.refresh_once(now=700)
    assert r.refresh_once(now=700 + DEBOUNCE) == [site_id]
    assert _rows(v, site_id)[-1] == ("refresh", 0.0, 0)
    with v.db.session() as s:  # the trend: each bucket ends with the newest measurement of then
        assert [b["coverage_rate"] for b in kpi_timeline(s, VILLAGE1, period="2d", step="1d")] == [None, 0.0]
        first_refresh = s.scalars(select(SiteCoverage.measured_at).where(SiteCoverage.source == "refresh")
                                  .order_by(SiteCoverage.id)).first()
        at = kpi_timeline(s, VILLAGE1, period="1h", step="1h", end=first_refresh)
        assert [b["coverage_rate"] for b in at] == [after]


def test_a_site_whose_plan_files_are_gone_is_left_alone(tracked):
    v, site_id, cam_id, req = tracked
    r = CoverageRefresher(v, debounce_s=0)
    r.refresh_once(now=0)
    req.area.rename(req.area.with_suffix(".moved"))
    try:
        _patch(v, cam_id, lifecycle="in_service")
        assert r.refresh_once(now=1) == []  # logged once, no row, no crash
        assert len(_rows(v, site_id)) == 1
    finally:
        req.area.with_suffix(".moved").rename(req.area)


def test_coverage_at_takes_the_newest_row_per_site_by_each_time():
    t0 = utcnow()
    h = [("a", t0, 0.5, 10.0), ("b", t0 + timedelta(hours=1), 1.0, 30.0), ("a", t0 + timedelta(hours=2), 0.9, 10.0)]
    at = coverage_at(h, [t0 - timedelta(hours=1), t0, t0 + timedelta(hours=1), t0 + timedelta(hours=3)])
    assert at[0] is None and at[1] == 0.5
    assert at[2] == pytest.approx((0.5 * 10 + 30) / 40) and at[3] == pytest.approx((0.9 * 10 + 30) / 40)
