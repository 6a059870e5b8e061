"""The city plan's part of the scope matrix: a city-plannable site per area, a stored city plan, the body.

Importing this registers a seeder with :mod:`scopekit` and the ``MISSING`` ID of ``city_plan_id``;
:mod:`matrixkit` merges :data:`PATH`, :data:`BODIES` and :data:`UNSCOPED_PATH`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scopekit import AREAS, MISSING, SEEDERS, TAG, Ctx, plan_area

from vigil.core.models import Site
from vigil.coverage.city_report import CITY_FILES
from vigil.coverage.models import PlanRecord


def _box(lon: float, lat: float) -> dict[str, Any]:
    x0, y0, x1, y1 = lon - 0.0006, lat, lon + 0.0006, lat + 0.0006
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def seed(ctx: Ctx) -> None:
    """Per area: the site gets a polygon over a two-building area file, and a city plan is stored."""
    home = Path(ctx.v.settings.home)
    (home / "areas").mkdir(parents=True, exist_ok=True)
    for area in AREAS:
        o = ctx.objs[area]
        (home / "areas" / f"city-{area}.geojson").write_bytes(plan_area(o["lon"], 25.0))
        out = home / "test-city-plans" / area
        out.mkdir(parents=True, exist_ok=True)
        for name in CITY_FILES:
            (out / name).write_text(f"{TAG[area]} {name}")
        summary = {"mode": "city", "name": f"{TAG[area]} city plan", "budget": 1000.0, "sites": 1}
        (out / "city.json").write_text(json.dumps(summary))
        with ctx.v.db.session() as s:
            s.get(Site, o["site_id"]).geometry = _box(o["lon"], 25.0)
            # an explicit id: a small one could hide inside "404" when the matrix compares answers
            rec = PlanRecord(id=77100 + list(AREAS).index(area), name=f"{TAG[area]} city plan", region_code=AREAS[area][1], out_dir=str(out),
                             level="observe", summary=summary, created_by=f"planner-{AREAS[area][0]}")
            s.add(rec)
            s.flush()
            o["city_plan_id"] = str(rec.id)


SEEDERS.append(seed)
MISSING["city_plan_id"] = "987654"

PATH: dict[str, Callable[[Ctx, str, str, bool], str]] = {
    "city_plan_id": lambda c, a, p, f: c.objs[a]["city_plan_id"],
}
UNSCOPED_PATH = {"file_name": "city.json"}


def _city_in(c: Ctx, a: str) -> list[Any]:
    from matrixkit import Body  # matrixkit imports this module: a real cycle

    # the town's region, with the town's own registered building file
    return [Body(json={"region_code": AREAS[a][0], "budget": 5000, "area_name": f"city-{a}.geojson",
                       "name": f"{TAG[a]} city {c.n()}", "steps": [1.0], "point_time_limit": 1, "spacing": 8})]


BODIES = {"CityPlanIn": _city_in}
