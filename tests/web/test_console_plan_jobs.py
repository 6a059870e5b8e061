"""The plan form in a real Chromium: it queues a job, shows its progress bar, and opens the plan when done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console_world import City, browser_errors
from sqlalchemy import select
from test_console import _css, _sign_in, _wait

from vigil.coverage.models import PlanJob
from vigil.coverage.runner import PlanJobService
from vigil.demo.city import map_data_dir

pytestmark = pytest.mark.browser


def _area(tmp_path: Path) -> Path:
    src = json.loads((map_data_dir() / "kunming_jinjiang" / "buildings.geojson").read_text(encoding="utf-8"))
    feats = [f for f in src["features"] if f["properties"].get("community") == "金色年华"]
    out = tmp_path / "jinse.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
    return out


def test_plan_form_shows_the_jobs_progress_and_opens_the_plan(chrome, console: City, sqlite_vigil, tmp_path,
                                                             shots: Path) -> None:
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, '#nav a[data-route="plans"]'))
    d.get(console.base + "/ui/#/plans")
    _wait(d, lambda x: _css(x, "#plan-new"))
    _css(d, "#plan-new")[0].click()
    _wait(d, lambda x: _css(x, "#plan-form"))
    region = _css(d, '#plan-form input[name="region_code"]')[0]
    region.clear()
    region.send_keys("53018101001")
    _css(d, '#plan-form input[name="area"]')[0].send_keys(str(_area(tmp_path)))
    limit = _css(d, '#plan-form input[name="time_limit"]')[0]
    limit.clear()
    limit.send_keys("5")
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
