"""Plan the real-map town of the demo city once, so its coverage rate and a plan are there to look at.

Two plans: the town's communities at Observe (the coverage-rate KPI), and its town centre, the buildings
within ``TOWN_CENTRE_RADIUS_M`` of the town's centre, with eagle-eye high points (rooftop panoramic cameras
and PTZ tours) at Detect, the level an overview camera on a roof is for.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.errors import VigilError
from vigil.demo.city import CITY, map_data_dir

__all__ = ["TOWN_CENTRE_RADIUS_M", "plan_demo_town", "plan_demo_town_centre", "town_centre_area"]

TOWN_CENTRE_RADIUS_M = 300.0


def plan_demo_town(v: Vigil, *, data: Path | None = None) -> dict:
    """Measure and plan the Jinjiang communities against the registry's cameras (fast heuristic solve).

    Stores the plan and its per-community coverage (the coverage-rate KPI) and returns the summary.
    A missing map is an error, never an empty plan.
    """
    from vigil.coverage.apply import record_plan, registry_cameras
    from vigil.coverage.plan import PlanRequest, run_plan
    from vigil.coverage.service import request_inputs

    area = (data or map_data_dir()) / "kunming_jinjiang" / "buildings.geojson"
    if not area.is_file():
        raise VigilError(f"the demo's real map is missing: {area} (reinstall vigil)")
    out = v.settings.home / "plans" / "demo-jinjiang"
    with v.db.session() as s:
        cams = registry_cameras(s, area, scope=Scope.everything().narrowed(f"{CITY[0]}01"))  # the plan's region
    req = PlanRequest(area=area, solver="greedy", name="锦江街道 demo plan")
    res = run_plan(req, out, existing=cams)
    with v.db.session() as s:  # with its inputs: the coverage refresher re-measures its sites later
        record_plan(s, res.summary, out, region_code=f"{CITY[0]}01", created_by="vigil-demo",
                    name="锦江街道 (demo)", inputs=request_inputs(req))
    return res.summary


def town_centre_area(data: Path, out: Path, radius_m: float = TOWN_CENTRE_RADIUS_M) -> Path:
    """Write the buildings within ``radius_m`` of the town's centre (``center.json``) to ``out`` (GeoJSON)."""
    src = data / "kunming_jinjiang"
    if not (src / "buildings.geojson").is_file() or not (src / "center.json").is_file():
        raise VigilError(f"the demo's real map is missing: {src} (reinstall vigil)")
    lon0, lat0 = json.loads((src / "center.json").read_text())["center"]
    doc = json.loads((src / "buildings.geojson").read_text(encoding="utf-8"))
    kx, ky = 111_320 * math.cos(math.radians(lat0)), 110_540

    def near(f: dict) -> bool:
        ring = f["geometry"]["coordinates"][0]
        lon, lat = sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)
        return math.hypot((lon - lon0) * kx, (lat - lat0) * ky) <= radius_m

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**doc, "features": [f for f in doc["features"] if near(f)]}, ensure_ascii=False),
                   encoding="utf-8")
    return out


def plan_demo_town_centre(v: Vigil, *, data: Path | None = None) -> dict:
    """Plan the town centre with eagle-eye high points and record it; returns the summary.

    Recorded before the community plan (``plan_demo_town``), whose Observe rows stay the newest for the KPI.
    """
    from vigil.coverage.apply import record_plan, registry_cameras
    from vigil.coverage.plan import PlanRequest, run_plan

    out = v.settings.home / "plans" / "demo-jinjiang-centre"
    area = town_centre_area(data or map_data_dir(), out / "town-centre.geojson")
    with v.db.session() as s:
        cams = registry_cameras(s, area, scope=Scope.everything().narrowed(f"{CITY[0]}01"))
    req = PlanRequest(area=area, level="detect", solver="greedy", eagle_eye=True, name="锦江街道 town centre (eagle-eye)")
    res = run_plan(req, out, existing=cams)
    with v.db.session() as s:
        record_plan(s, res.summary, out, region_code=f"{CITY[0]}01", created_by="vigil-demo",
                    name="锦江街道 town centre, eagle-eye (demo)")
    return res.summary
