"""Plan jobs and coverage refresh: what running a plan as a job costs, and what keeping coverage current costs.

Usage: .venv/bin/python bench/plan_jobs.py [--cameras N]

In a temporary SQLite instance with the demo city (N cameras, the Jinjiang town on its real map):
  * job       : one compound (金色年华) planned as a job: POST answer time, then the job's wall time
                (claim, registry read, spawned process, stages written, plan recorded);
  * baseline  : the same plan run in-process with ``run_plan`` (what the request used to do);
  * refresh   : the town's 16 communities re-measured after a camera was put in service
                (one aggregate check, fingerprints, the measurement, the history rows);
  * baseline  : a full plan of the same town (greedy), what re-planning to update the KPI would cost.
Prints each figure and the ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.core.context import Vigil
from vigil.core.models import Camera
from vigil.coverage.current import CoverageRefresher
from vigil.coverage.plan import PlanRequest, run_plan
from vigil.coverage.runner import PlanJobService
from vigil.demo.city import build_demo_city, map_data_dir
from vigil.demo.coverage import plan_demo_town

TOWN = "53018101"


def _compound(d: Path) -> Path:
    src = json.loads((map_data_dir() / "kunming_jinjiang" / "buildings.geojson").read_text(encoding="utf-8"))
    feats = [f for f in src["features"] if f["properties"].get("community") == "金色年华"]
    out = d / "jinse.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as d:
        v = Vigil.open(f"sqlite:///{d}/v.db", f"{d}/home")
        init_instance(v, root_code="5301", root_name="昆明市")
        build_demo_city(v, cameras=args.cameras)
        with v.db.session() as s:
            token = issue_token(s, add_user(s, "planner", "a-long-password", "planner", [TOWN]))
        area = _compound(Path(d))
        c = TestClient(create_app(v))
        form = {"region_code": TOWN, "level": "observe", "spacing": "5", "time_limit": "30"}
        t0 = time.perf_counter()
        r = c.post("/api/v1/plans", data=form, files={"area": ("jinse.geojson", area.read_bytes())},
                   headers={"Authorization": f"Bearer {token}"})
        post_s = time.perf_counter() - t0
        assert r.status_code == 202, r.text
        t0 = time.perf_counter()
        assert PlanJobService(v, runner="bench").run_once() == "done"
        job_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_plan(PlanRequest(area=area, level="observe", spacing=5, time_limit=30), Path(d) / "inproc")
        inproc_s = time.perf_counter() - t0
        print(f"plan as a job: POST answered in {post_s * 1000:.0f} ms (202); job {job_s:.2f} s; in-process "
              f"run_plan {inproc_s:.2f} s; job / in-process = {job_s / inproc_s:.2f}")

        t0 = time.perf_counter()
        plan_demo_town(v)  # the town's 16 communities: recorded with their inputs (tracked)
        plan_s = time.perf_counter() - t0
        ref = CoverageRefresher(v, debounce_s=0)
        ref.refresh_once(now=0)  # baseline adopted
        t0 = time.perf_counter()
        assert ref.refresh_once(now=1) == []
        idle_ms = (time.perf_counter() - t0) * 1000
        with v.db.session() as s:
            cam = s.scalars(select(Camera).where(Camera.region_code.startswith(TOWN),
                                                 Camera.site_id.is_not(None))).first()
            cam.heading_deg = (cam.heading_deg + 90) % 360
        t0 = time.perf_counter()
        sites = ref.refresh_once(now=2)
        refresh_s = time.perf_counter() - t0
        print(f"coverage refresh: idle pass {idle_ms:.1f} ms; {len(sites)} site(s) re-measured in {refresh_s:.2f} s "
              f"after one camera was re-aimed; a full greedy plan of the town {plan_s:.2f} s; "
              f"refresh / plan = {refresh_s / plan_s:.2f} ({args.cameras} cameras in the registry)")
        v.close()


if __name__ == "__main__":
    main()
