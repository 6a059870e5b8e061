"""A failed or cancelled plan job's error in the caller's language: the job record keeps the English, the API
(the job, the list and the end event the console follows) translates it on the way out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import TOWN1, VILLAGE1, build_world
from vigil.api.app import create_app
from vigil.coverage.models import PlanJob
from vigil.coverage.runner import PlanJobService

ZH = {"Accept-Language": "zh-CN"}


def test_a_failed_jobs_error_reads_in_chinese(sqlite_vigil) -> None:
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil))
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    junk = {"area": ("junk.geojson", b"not a map", "application/geo+json")}
    ids = [c.post("/api/v1/plans", data={"region_code": VILLAGE1, "time_limit": "5"}, files=junk,
                  headers=planner).json()["id"] for _ in range(2)]
    c.post(f"/api/v1/plans/jobs/{ids[1]}/cancel", headers=planner)
    assert PlanJobService(sqlite_vigil, runner="t").run_once() == "failed"
    url = f"/api/v1/plans/jobs/{ids[0]}"
    en, zh = c.get(url, headers=planner).json(), c.get(url, headers={**planner, **ZH}).json()
    assert en["state"] == zh["state"] == "failed"
    assert "not a readable vector file" in en["error"]
    assert "无法读取的矢量文件" in zh["error"] and "not a readable" not in zh["error"]
    with sqlite_vigil.db.session() as s:
        assert s.get(PlanJob, ids[0]).error == en["error"]  # the record keeps the English
    listed = {j["id"]: j["error"] for j in c.get("/api/v1/plans/jobs", headers={**planner, **ZH}).json()["items"]}
    assert listed == {ids[0]: zh["error"], ids[1]: "开始前已取消"}
    with c.stream("GET", url + "/events", headers={**planner, **ZH}) as events:
        stream = "".join(events.iter_text())
    assert "event: end" in stream and zh["error"] in stream
