"""The plan form in a real Chromium: it queues a job, shows its progress bar, and opens the plan when done; a map
that lies outside the region is refused with a message in the user's language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from console_world import City, browser_errors, choose_language, seed_plan
from shapely.geometry import mapping, shape
from sqlalchemy import func, select
from test_console import _css, _sign_in, _text, _wait

from vigil.access.users import Principal
from vigil.core.models import Role, Site
from vigil.coverage import jobs
from vigil.coverage.models import PlanJob
from vigil.coverage.runner import PlanJobService
from vigil.coverage.service import PlanOptions
from vigil.demo.city import map_data_dir

pytestmark = pytest.mark.browser


def _area(tmp_path: Path) -> Path:
    src = json.loads((map_data_dir() / "kunming_jinjiang" / "buildings.geojson").read_text(encoding="utf-8"))
    feats = [f for f in src["features"] if f["properties"].get("community") == "金色年华"]
    out = tmp_path / "jinse.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
    return out


def _register_community(v, area: Path, region: str) -> None:  # type: ignore[no-untyped-def]
    """Register 金色年华 as a site of ``region``, so that the map of it lies in the region's extent."""
    feats = json.loads(area.read_text(encoding="utf-8"))["features"]
    hull = shapely.convex_hull(shapely.GeometryCollection([shape(f["geometry"]) for f in feats]))
    with v.db.session() as s:
        s.add(Site(name="金色年华", kind="residential", protection_class=2, region_code=region, geometry=mapping(hull)))


def _submit(d, region: str, area: Path) -> None:  # type: ignore[no-untyped-def]
    """Open the plan form, fill in the region, the buildings and a 5 s time limit, and submit it."""
    _wait(d, lambda x: _css(x, "#plan-new"))
    _css(d, "#plan-new")[0].click()
    _wait(d, lambda x: _css(x, "#plan-form"))
    box = _css(d, '#plan-form input[name="region_code"]')[0]
    box.clear()
    box.send_keys(region)
    _css(d, '#plan-form input[name="area"]')[0].send_keys(str(area))
    limit = _css(d, '#plan-form input[name="time_limit"]')[0]
    limit.clear()
    limit.send_keys("5")


def test_plan_form_shows_the_jobs_progress_and_opens_the_plan(chrome, console: City, sqlite_vigil, tmp_path,
                                                             shots: Path) -> None:
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, '#nav a[data-route="plans"]'))
    area = _area(tmp_path)
    _register_community(sqlite_vigil, area, "53018101001")
    d.get(console.base + "/ui/#/plans")
    _submit(d, "53018101001", area)
    _css(d, "#plan-eagle-eye")[0].click()  # ticked: the job plans rooftop and tower high points too
    _css(d, "#plan-submit")[0].click()
    # no runner yet: the job waits in the queue, and the bar says so
    _wait(d, lambda x: _css(x, "#plan-progress progress") and "Waiting in the queue" in _css(x, "#plan-progress")[0].text)
    d.save_screenshot(str(shots / "console-plan-job-queued.png"))
    with sqlite_vigil.db.session() as s:
        assert [j.request["options"]["eagle_eye"] for j in s.scalars(select(PlanJob))] == [True]
    runner = PlanJobService(sqlite_vigil, runner="browser-test", poll_s=0.2)
    runner.start_sync()
    try:  # the bar moves with the stages, then the stream's end event takes the form to the recorded plan
        _wait(d, lambda x: "#/plans/" in x.current_url or x.execute_script(
            "return (document.querySelector('#plan-progress progress')?.value || 0) > 0"), timeout=120)
        d.save_screenshot(str(shots / "console-plan-job-running.png"))
        _wait(d, lambda x: "#/plans/" in x.current_url and _css(x, "#plan-coverage .value"), timeout=120)
    finally:
        runner.stop_sync()
    assert "%" in _css(d, "#plan-coverage .value")[0].text
    # 5 s with the shipped multi-model catalog: the proven gap is stated in words, with its warning above 1 %
    assert "of the cheapest possible plan" in _css(d, "#plan-proof")[0].text
    assert "above 1 %" in _css(d, "#plan-gap-warning")[0].text
    assert browser_errors(d) == []


def _plans_in_chinese(d, console: City) -> None:  # type: ignore[no-untyped-def]
    """Sign in, switch the console to Chinese and open the planning page."""
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, '#nav a[data-route="plans"]'))
    choose_language(d, "zh-CN")
    _wait(d, lambda x: _text(x, '#nav a[data-route="plans"]') == "规划方案")
    d.get(console.base + "/ui/#/plans")


def test_a_map_outside_the_region_is_refused_in_chinese(chrome, console: City, sqlite_vigil, tmp_path,
                                                        shots: Path) -> None:
    d = chrome
    _plans_in_chinese(d, console)
    # 金色年华 lies some 25 km from 金方社区, the village it is given for
    _submit(d, "53018102001", _area(tmp_path))
    _css(d, "#plan-submit")[0].click()
    _wait(d, lambda x: _text(x, "#plan-refused"))
    msg = _text(d, "#plan-refused")
    assert msg.startswith("地图不在金方社区 (53018102001)范围内：距该区域") and "最多允许 10 公里" in msg, msg
    assert _css(d, "#plan-progress")[0].get_attribute("hidden") is not None  # nothing queued, no progress bar
    d.save_screenshot(str(shots / "console-plan-refused-zh.png"))
    with sqlite_vigil.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PlanJob)) == 0
    # the 422 is the answer the page shows, not an error in it
    assert [e for e in browser_errors(d) if "/api/v1/plans" not in e] == []


@pytest.mark.parametrize(("stage", "text"), [("visibility", "计算每台摄像机的可视范围"), ("curves", "为每个站点估价"),
                                             ("queue", "服务器重启后已重新排队")])
def test_a_running_jobs_stage_reads_in_chinese(chrome, console: City, sqlite_vigil, stage: str, text: str) -> None:
    """The server sends the stage key; the console names it from its catalogue."""
    p = Principal(1, "admin", Role.ADMIN, ("5301",))
    with sqlite_vigil.db.session() as s:
        job = jobs.submit_job(s, p, PlanOptions(region_code="53018101001", name="金色家园补点"), {"area": "/none"},
                              work_dir=sqlite_vigil.settings.home / "plans" / "running")
        job.state, job.stage, job.percent = "running", stage, 42.0
    d = chrome
    _plans_in_chinese(d, console)
    _wait(d, lambda x: _text(x, f'.plan-job[data-job="{job.id}"] [role=status]') == f"{text} · 42 %")


def test_the_plan_pages_stage_times_read_in_chinese(chrome, console: City, sqlite_vigil) -> None:
    """The plan's time card: its total as the run measured it, each stage named from the catalogue, the level too."""
    plan_id = seed_plan(sqlite_vigil)  # seconds: visibility 0.8, optimise 0.2, total 1.0
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, '#nav a[data-route="plans"]'))
    choose_language(d, "zh-CN")
    _wait(d, lambda x: _text(x, '#nav a[data-route="plans"]') == "规划方案")
    d.get(console.base + f"/ui/#/plans/{plan_id}")
    _wait(d, lambda x: _text(x, "#plan-time .value"))
    assert _text(d, "#plan-time .value") == "1 秒"  # not the stages and their total added up
    assert _text(d, "#plan-time .sub") == "计算每台摄像机的可视范围 0.8 秒 · 选择摄像机（求解器） 0.2 秒"
    assert "级别 观察（62.5 像素/米）" in _text(d, "#plan-cards")
