"""The shells: `vigil plan AREA --out DIR`, `vigil plan apply DIR`, and the /api/v1/plans routes."""

import json
import shutil

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from factories import TOWN1, TOWN2, VILLAGE1, build_world
from planjobkit import post_plan
from vigil.access.bootstrap import init_instance
from vigil.api.app import create_app
from vigil.cli import app as cli_app
from vigil.core.errors import ConflictError, NotFoundError
from vigil.core.ids import DeviceId
from vigil.core.models import AuditEntry, Camera, Region
from vigil.coverage.apply import apply_plan
from vigil.coverage.models import PlanRecord, SiteCoverage

runner = CliRunner()


def test_cli_plan_area_out_as_written(kunming_community, one_model, tmp_path):
    out = tmp_path / "out"
    # the solve runs to its time limit (HiGHS keeps improving the proof); the shell is what is tested here
    r = runner.invoke(cli_app, ["plan", str(kunming_community), "--out", str(out), "--catalog", str(one_model),
                                "--spacing", "8", "--time-limit", "2", "--level", "detect"])
    assert r.exit_code == 0, r.output
    assert "optimise" in r.output and "report.html" in r.output  # progress per stage, then the summary
    assert "report (to 100 %)" in r.output  # the percent a plan job reports (vigil.coverage.progress)
    s = json.loads((out / "summary.json").read_text())
    assert s["level"] == "detect" and s["ppm"] == 25
    r = runner.invoke(cli_app, ["plan", "run", str(kunming_community), "--out", str(tmp_path / "o2"), "--catalog",
                                str(one_model), "--spacing", "8", "--budget", "5", "--solver", "greedy"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "o2" / "summary.json").read_text())["cameras_new"] <= 5


def test_cli_bad_input_is_one_clear_error(tmp_path):
    r = runner.invoke(cli_app, ["plan", str(tmp_path / "none.geojson"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no such file" in r.output and "Traceback" not in r.output


def test_apply_inserts_planned_cameras_with_gb28181_ids(vigil, community_plan, tmp_path):
    out = tmp_path / "plan"
    shutil.copytree(community_plan[1], out)
    init_instance(vigil, root_code="5301", root_name="Kunming")
    with vigil.db.session() as s:
        s.add(Region(code="530102", name="Wuhua", level=2, parent_code="5301"))
    with vigil.db.session() as s:
        ids = apply_plan(s, out, region_code="530102", actor="planner1")
    n = community_plan[0].summary["cameras_new"]
    assert len(ids) == n == len(set(ids))
    with vigil.db.session() as s:
        cams = s.scalars(select(Camera).where(Camera.id.in_(ids))).all()
        assert {c.lifecycle for c in cams} == {"planned"} and len(cams) == n
        assert all(DeviceId.parse(c.id).is_camera and DeviceId.parse(c.id).belongs_to_region("530102") for c in cams)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "plan.apply")).all()
        assert len(audit) == 1 and audit[0].actor == "planner1"
    with vigil.db.session() as s, pytest.raises(ConflictError):
        apply_plan(s, out, region_code="530102", actor="planner1")
    with vigil.db.session() as s, pytest.raises(NotFoundError):
        apply_plan(s, community_plan[1], region_code="999999", actor="x")


def test_cli_apply(sqlite_vigil, community_plan, tmp_path):
    out = tmp_path / "plan"
    shutil.copytree(community_plan[1], out)
    init_instance(sqlite_vigil, root_code="5301", root_name="Kunming")
    url, home = sqlite_vigil.settings.db_url, str(sqlite_vigil.settings.home)
    r = runner.invoke(cli_app, ["plan", "apply", str(out), "--region", "5301", "--db", url, "--home", home])
    assert r.exit_code == 0, r.output
    assert "planned camera(s) added" in r.output


def test_api_run_list_files_apply_and_scope(sqlite_vigil, kunming_community):
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    form = {"region_code": VILLAGE1, "name": "jinse", "spacing": "8", "time_limit": "2", "level": "detect"}
    files = {"area": ("jinse.geojson", kunming_community.read_bytes(), "application/geo+json")}
    r = post_plan(c, sqlite_vigil, data=form, files=files, headers=planner)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["summary"]["coverage_after"] > 0.9 and plan["region_code"] == VILLAGE1
    pid = plan["id"]
    assert [p["id"] for p in c.get("/api/v1/plans", headers=planner).json()["items"]] == [pid]
    png = c.get(f"/api/v1/plans/{pid}/files/map.png", headers=planner)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert c.get(f"/api/v1/plans/{pid}/files/plan.geojson", headers=planner).json()["features"]
    assert c.get(f"/api/v1/plans/{pid}/files/..%2Fsecret", headers=planner).status_code == 404
    other = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN2}']}"}
    assert c.get(f"/api/v1/plans/{pid}", headers=other).status_code == 404
    assert c.get("/api/v1/plans", headers=other).json()["items"] == []
    duty = {"Authorization": f"Bearer {w.tokens[f'duty_officer-{TOWN1}']}"}
    assert c.get("/api/v1/plans", headers=duty).status_code == 403
    assert c.post("/api/v1/plans", data={**form, "region_code": "53018102201"}, files=files,
                  headers=planner).status_code == 404
    assert c.get("/api/v1/plans").status_code == 401
    r = c.post(f"/api/v1/plans/{pid}/apply", headers=planner)
    assert r.status_code == 200, r.text
    assert len(r.json()["cameras"]) == plan["cameras_new"]
    with sqlite_vigil.db.session() as s:
        rec = s.get(PlanRecord, pid)
        assert rec.applied_at is not None
        assert s.scalars(select(SiteCoverage).where(SiteCoverage.plan_id == pid)).all()


def test_demo_town_with_registry_cameras(sqlite_vigil, kunming_community, one_model, tmp_path):
    from vigil.demo.city import build_demo_city

    init_instance(sqlite_vigil, root_code="5301", root_name="Kunming")
    build_demo_city(sqlite_vigil, cameras=1500)
    url, home = sqlite_vigil.settings.db_url, str(sqlite_vigil.settings.home)
    out = tmp_path / "demo"
    r = runner.invoke(cli_app, ["plan", str(kunming_community), "--out", str(out), "--catalog", str(one_model),
                                "--existing", "registry", "--spacing", "8", "--time-limit", "2",
                                "--region", "53018101", "--db", url, "--home", home])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["cameras_existing"] > 0 and s["coverage_before"] > 0
    assert s["coverage_after"] >= s["coverage_before"]
    with sqlite_vigil.db.session() as sess:
        rec = sess.scalar(select(PlanRecord))
        assert rec.region_code == "53018101" and rec.summary["cameras_new"] == s["cameras_new"]
        cov = sess.scalar(select(SiteCoverage).where(SiteCoverage.plan_id == rec.id))
        assert cov.site_name == "金色年华" and cov.site_id is not None  # matched to the demo's site of that name
        assert cov.coverage == s["communities"][0]["coverage_before"]
