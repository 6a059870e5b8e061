"""The City budget page in a real Chromium: the list, one plan's figures, packages, map, curve and marginal
costs, the report links in the console's language, and the page in Chinese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console_world import CITY, City, browser_errors
from test_console import _css, _sign_in, _text, _wait

from vigil.coverage.apply import record_plan
from vigil.coverage.city import CityOptions, run_city
from vigil.coverage.city_sites import sites_from_folder
from vigil.demo.city import map_data_dir

pytestmark = pytest.mark.browser


def _seed_city_plan(v, tmp: Path) -> int:  # type: ignore[no-untyped-def]
    src = json.loads((map_data_dir() / "kunming_jinjiang" / "buildings.geojson").read_text())
    areas = tmp / "areas"
    areas.mkdir()
    for i, name in enumerate(("23号庭院", "赢城洋楼")):
        feats = [f for f in src["features"] if f["properties"].get("community") == name]
        (areas / f"c{i}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (areas / "sites.json").write_text(json.dumps({"c0": {"name": "23号庭院"}, "c1": {"name": "赢城洋楼"}}))
    sites, _ = sites_from_folder(areas)
    out = tmp / "city"
    plan = run_city(sites, CityOptions(budget=15000, steps=(0.5, 1.0), point_time_limit=1, spacing=8), out)
    with v.db.session() as s:
        return record_plan(s, plan.summary, out, region_code=CITY, created_by="admin", name="2027 补盲").id


def test_city_budget_page(chrome, console: City, sqlite_vigil, tmp_path, shots: Path) -> None:
    plan_id = _seed_city_plan(sqlite_vigil, tmp_path)
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, '#nav a[data-route="city_plan"]'))
    _css(d, '#nav a[data-route="city_plan"]')[0].click()
    row = f'table.city-plans tr[data-id="{plan_id}"]'
    _wait(d, lambda x: _css(x, f"{row} a"))
    assert "2027 补盲" in _text(d, row)
    _css(d, f"{row} a")[0].click()
    _wait(d, lambda x: _css(x, "#city-cards") and _css(x, "table.city-marginal tbody tr"))
    assert len(_css(d, "table.city-marginal tbody tr")) == 2
    assert _css(d, "table.city-packages tbody tr") and "23号庭院" in _text(d, "table.city-marginal")
    _wait(d, lambda x: x.execute_script(
        "return [...document.querySelectorAll('img.report-img')].every((i) => i.complete && i.naturalWidth > 0)"))
    srcs = [i.get_attribute("src") for i in _css(d, "img.report-img")]
    assert any(s.endswith("map.en.png") for s in srcs) and any(s.endswith("curve.en.png") for s in srcs)
    d.save_screenshot(str(shots / "console-city-plan.png"))
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: "工程包" in _text(x, "#view") or "工程包" in _text(x, "body"))
    _wait(d, lambda x: any((i.get_attribute("src") or "").endswith("map.zh.png") for i in _css(x, "img.report-img")))
    assert "全市预算" in _text(d, "body")
    assert browser_errors(d) == []


def _city_layer(v) -> None:  # type: ignore[no-untyped-def]
    """A real two-building compound moved into the first village's site square, as <home>/areas/city.geojson."""
    src = json.loads((map_data_dir() / "kunming_jinjiang" / "buildings.geojson").read_text())
    feats = [f for f in src["features"] if f["properties"].get("community") == "23号庭院"]
    pts = [xy for f in feats for ring in f["geometry"]["coordinates"] for xy in ring]
    dx = 102.47 - sum(p[0] for p in pts) / len(pts)
    dy = 24.91 - sum(p[1] for p in pts) / len(pts)
    for f in feats:
        f["geometry"]["coordinates"] = [[[x + dx, y + dy] for x, y in ring] for ring in f["geometry"]["coordinates"]]
    areas = Path(v.settings.home) / "areas"
    areas.mkdir(parents=True, exist_ok=True)
    (areas / "city.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


@pytest.mark.slow  # 17 s: the plan form's job progress is also tested in test_console_plan_jobs.py
def test_city_form_follows_the_job_and_opens_the_city_plan(chrome, console: City, sqlite_vigil, shots: Path) -> None:
    from vigil.coverage.runner import PlanJobService

    _city_layer(sqlite_vigil)
    d = chrome
    _sign_in(d, console)
    d.get(console.base + "/ui/#/city_plan")
    _wait(d, lambda x: _css(x, "#city-new"))
    _css(d, "#city-new")[0].click()
    _wait(d, lambda x: _css(x, "#city-form"))
    for field, value in (("region_code", CITY), ("area_name", "city.geojson"), ("budget", "20000"),
                         ("point_time_limit", "1")):
        box = _css(d, f'#city-form input[name="{field}"]')[0]
        box.clear()
        box.send_keys(value)
    _css(d, "#city-submit")[0].click()
    # no runner yet: the job waits in the plan job queue, with the same progress bar as the plan form
    _wait(d, lambda x: _css(x, "#city-progress progress") and "Waiting in the queue" in _css(x, "#city-progress")[0].text)
    runner = PlanJobService(sqlite_vigil, runner="browser-city", poll_s=0.2)
    runner.start_sync()
    try:  # the stream's end event takes the page to the recorded city plan
        _wait(d, lambda x: "#/city_plan/" in x.current_url and _css(x, "#city-cards"), timeout=120)
    finally:
        runner.stop_sync()
    d.save_screenshot(str(shots / "console-city-plan-job-done.png"))
    assert len(_css(d, "table.city-marginal tbody tr")) == 1  # the one site with buildings; the others left out
    assert _css(d, "#city-skipped")
    assert browser_errors(d) == []
