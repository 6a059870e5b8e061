"""Plan the real-map town of the demo city once, so its coverage rate and a plan are there to look at."""

from __future__ import annotations

from pathlib import Path

from vigil.access.guard import Scope
from vigil.core.context import Vigil
from vigil.core.errors import VigilError
from vigil.demo.city import CITY, map_data_dir

__all__ = ["plan_demo_town"]


def plan_demo_town(v: Vigil, *, data: Path | None = None) -> dict:
    """Measure and plan the Jinjiang communities against the registry's cameras (fast heuristic solve).

    Stores the plan and its per-community coverage (the coverage-rate KPI) and returns the summary.
    A missing map is an error, never an empty plan.
    """
    from vigil.coverage.apply import record_plan, registry_cameras
    from vigil.coverage.plan import PlanRequest, run_plan

    area = (data or map_data_dir()) / "kunming_jinjiang" / "buildings.geojson"
    if not area.is_file():
        raise VigilError(f"the demo's real map is missing: {area} (reinstall vigil)")
    out = v.settings.home / "plans" / "demo-jinjiang"
    with v.db.session() as s:
        cams = registry_cameras(s, area, scope=Scope.everything().narrowed(f"{CITY[0]}01"))  # the plan's region
    res = run_plan(PlanRequest(area=area, solver="greedy", name="锦江街道 demo plan"), out, existing=cams)
    with v.db.session() as s:
        record_plan(s, res.summary, out, region_code=f"{CITY[0]}01", created_by="vigil-demo",
                    name="锦江街道 (demo)")
    return res.summary
