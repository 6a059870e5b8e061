"""What the region check adds to ``POST /api/v1/plans``: reading the map and testing it against the region's extent.

For each map extract the repository holds, times :func:`vigil.coverage.area_check.check_plan_area` (read the
file, take its hull, build the region's extent from the registry, measure the distance) on a throw-away SQLite
instance whose region holds ``--cameras`` cameras and ``--sites`` sites; baseline in the same run: the plan's
own read of the same file (:func:`vigil.coverage.geo.load_buildings`, what the job's ``read`` stage does first).

    nice -n 10 .venv/bin/python bench/plan_area_check.py --cameras 20000 --sites 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _pg import machine_line

from vigil.access.bootstrap import init_instance
from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Region, Site
from vigil.coverage.area_check import check_plan_area
from vigil.coverage.geo import load_buildings
from vigil.registry.extent import AreaOutsideRegion, region_extent

REPO = Path(__file__).resolve().parent.parent
MAPS = ("src/vigil/demo/data/kunming_jinjiang/buildings.geojson", "data/wuhan_tilezen/buildings.geojson",
        "data/shanghai_shu/map.osm")
TOWN = "53018101"


def _instance(home: Path, cameras: int, sites: int) -> Vigil:
    v = Vigil.open(f"sqlite:///{home / 'vigil.db'}", str(home))
    init_instance(v, root_code="5301", root_name="昆明市")
    with v.db.session() as s:
        s.add(Region(code=TOWN, name="连然街道", level=3, parent_code="5301", lon=102.47, lat=24.91))
        s.flush()
        for i in range(sites):
            lon, lat = 102.40 + (i % 50) * 0.004, 24.85 + (i // 50) * 0.004
            ring = [[lon, lat], [lon + 0.001, lat], [lon + 0.001, lat + 0.001], [lon, lat + 0.001], [lon, lat]]
            s.add(Site(name=f"site {i}", kind="residential", protection_class=3, region_code=TOWN,
                       geometry={"type": "Polygon", "coordinates": [ring]}, lon=lon, lat=lat))
        s.add_all(Camera(id=generate_device_id(TOWN, i + 1).value, name=f"cam {i}", region_code=TOWN,
                         lon=102.40 + (i % 200) * 0.001, lat=24.85 + (i // 200) * 0.001, lifecycle="in_service",
                         main_url="rtsp://127.0.0.1:9/x") for i in range(cameras))
    return v


def _median(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Print, per map, the check's median time against the plan's own read of the same map."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=20000)
    ap.add_argument("--sites", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="vigil-bench-area-") as tmp:
        v = _instance(Path(tmp), args.cameras, args.sites)

        def check(path: Path) -> None:
            # a map of another city is refused, which is what is timed
            with v.db.session() as s, contextlib.suppress(AreaOutsideRegion):
                check_plan_area(s, TOWN, path)

        def extent() -> None:
            with v.db.session() as s:
                region_extent(s, TOWN)

        print(f"region {TOWN}: {args.cameras} cameras, {args.sites} sites; median of {args.rounds}; "
              f"the region's extent alone: {_median(extent, args.rounds):.3f} s")
        print(f"{'map':<44} {'read (baseline) s':>18} {'check s':>9} {'× read':>7}")
        for rel in MAPS:
            path = REPO / rel
            base = _median(lambda p=path: load_buildings(p), args.rounds)
            took = _median(lambda p=path: check(p), args.rounds)
            print(f"{rel:<44} {base:>18.3f} {took:>9.3f} {took / base:>7.2f}")
        v.close()


if __name__ == "__main__":
    main()
