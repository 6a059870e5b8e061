"""A route that builds its problem itself (``problem()``: the plan refused for a map outside its region) answers
in the caller's language: ``detail`` in Chinese with the English as ``detail_en``, the facts unchanged."""

from __future__ import annotations

from covkit import mapdata
from fastapi.testclient import TestClient

from factories import TOWN1, VILLAGE1, build_world
from vigil.api.app import create_app


def test_the_refused_map_reads_in_chinese(sqlite_vigil) -> None:
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil))
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    area = {"area": ("area.osm", mapdata("shanghai_shu/map.osm").read_bytes(), "application/octet-stream")}
    form = {"region_code": VILLAGE1, "time_limit": "5"}
    en = c.post("/api/v1/plans", data=form, headers=planner, files=area)
    zh = c.post("/api/v1/plans", data=form, headers={**planner, "Accept-Language": "zh-CN"}, files=area)
    assert en.status_code == zh.status_code == 422
    assert "detail_en" not in en.json() and zh.json()["detail_en"] == en.json()["detail"]
    assert zh.json()["detail"].startswith(f"地图不在区域 {VILLAGE1}（Village 1）范围内：距该区域已登记的站点和摄像机 ")
    facts = ("type", "title", "region_code", "region_name", "distance_km", "margin_km")
    assert {k: zh.json()[k] for k in facts} == {k: en.json()[k] for k in facts}
