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
