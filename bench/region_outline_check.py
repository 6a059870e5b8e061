"""What an outline changes in the region check: judging a map by a region's outline instead of the hull of its places.

On a throw-away SQLite instance whose town holds ``--cameras`` cameras and ``--sites`` sites (as
``bench/plan_area_check.py`` builds it), times :func:`vigil.registry.extent.check_in_region` for a plan's area
(the Kunming extract's hull, another city: refused, which is what is timed) three ways, in the same run:

- baseline: the town has no outline (the hull of its sites, cameras and reference points is built);
- the town outlined by the buffered hull of its sites (a few hundred vertices at most);
- the town outlined by a 20,000-vertex ring (the most an outline may have).

Also the map layer (``GET /regions/geojson``'s body) of that outline against the sites' layer of the same town.

    nice -n 10 .venv/bin/python bench/region_outline_check.py --cameras 20000 --sites 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import tempfile
from pathlib import Path

import shapely
from _pg import machine_line
from plan_area_check import REPO, TOWN, _instance, _median
from shapely.geometry import shape
from sqlalchemy import select

from vigil.access.users import Principal
from vigil.core.models import Region, Site
from vigil.coverage.area_check import area_outline
from vigil.registry.extent import AreaOutsideRegion, check_in_region
from vigil.registry.geometry import MAX_VERTICES
from vigil.registry.region_layer import region_layer_json
from vigil.registry.site_layer import site_layer_json

AREA = "src/vigil/demo/data/kunming_jinjiang/buildings.geojson"


def _ring(n: int) -> dict:
    lon, lat, r = 102.50, 24.90, 0.15
    pts = [[lon + r * math.cos(2 * math.pi * k / n), lat + r * math.sin(2 * math.pi * k / n)] for k in range(n)]
    return {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}


def main() -> None:
    """Print the check's median time with each outline against the hull baseline, and the layers' times."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=20000)
    ap.add_argument("--sites", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(machine_line())
    area = area_outline(REPO / AREA)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-outline-") as tmp:
        v = _instance(Path(tmp), args.cameras, args.sites)
        with v.db.session() as s:
            polys = [shape(g) for g in s.scalars(select(Site.geometry).where(Site.region_code == TOWN))]
        hull = json.loads(shapely.to_geojson(shapely.convex_hull(shapely.GeometryCollection(polys)).buffer(0.005)))

        def outline(value: dict | None) -> None:
            with v.db.session() as s:
                s.get(Region, TOWN).outline = value

        def check() -> None:
            with v.db.session() as s, contextlib.suppress(AreaOutsideRegion):
                check_in_region(s, TOWN, area)

        print(f"town {TOWN}: {args.cameras} cameras, {args.sites} sites; area {AREA}; median of {args.rounds}")
        print(f"{'extent':<36} {'check s':>9} {'× hull':>7}")
        base = _median(check, args.rounds)
        print(f"{'hull of places (baseline)':<36} {base:>9.4f} {1.0:>7.2f}")
        for label, value in ((f"outline, {shapely.get_num_coordinates(shape(hull))} vertices", hull),
                             (f"outline, {MAX_VERTICES} vertices", _ring(MAX_VERTICES - 1))):
            outline(value)
            took = _median(check, args.rounds)
            print(f"{label:<36} {took:>9.4f} {took / base:>7.2f}")
        p = Principal(user_id=0, name="bench", role="admin", scopes=("5301",))  # type: ignore[arg-type]
        with v.db.read_session() as s:
            sites = _median(lambda: site_layer_json(s, p, TOWN), args.rounds)
            regions = _median(lambda: region_layer_json(s, p, TOWN), args.rounds)
        print(f"layers of {TOWN}: sites (baseline) {sites:.4f} s, the {MAX_VERTICES}-vertex outline "
              f"{regions:.4f} s (× {regions / sites:.2f})")
        v.close()


if __name__ == "__main__":
    main()
