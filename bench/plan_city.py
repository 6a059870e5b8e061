"""City-budget benchmark: 73 communities and 13 town centres tiled from the repository's real areas.

The communities are the 16 real Kunming compounds copied and translated (every third one keeps two
existing cameras, fixed in its plan); the town centres are 400 m windows of the Shanghai campus and of
Wuhan's Optics Valley (buildings and roads), translated too. Each site is priced at several coverage levels
with the shipped multi-model catalog, then one budget is allocated across all 86 (exact knapsack).

Prints the time of each stage against the goal (< 5 min on 2 cores), the city coverage, the proven bound,
and the weighted coverage gained per 10,000 yuan against a uniform split of the same budget (the baseline),
at the chosen budget and at a quarter, half and three quarters of the cost of covering everything.

    nice -n 10 .venv/bin/python bench/plan_city.py [--workers 2] [--budget 2500000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box, mapping

from vigil.coverage.city import CityOptions, allocate_city, run_city
from vigil.coverage.city_alloc import uniform_split
from vigil.coverage.city_sites import CitySite
from vigil.coverage.geo import Feature, read_features
from vigil.demo.city import map_data_dir

REPO = Path(__file__).resolve().parents[1]
KUNMING = map_data_dir() / "kunming_jinjiang" / "buildings.geojson"
SHANGHAI = REPO / "data" / "shanghai_shu" / "map.osm"
WUHAN = REPO / "data" / "wuhan_tilezen"
COMMUNITIES, CENTRES = 73, 13
WINDOW_DEG = 0.0038  # about 400 m
GOAL_S = 300.0


def _moved(g: shapely.Geometry, dx: float, dy: float) -> shapely.Geometry:
    return shapely.transform(g, lambda xy: xy + np.array([dx, dy]))


def _write(path: Path, feats: list[Feature], dx: float, dy: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {k: v for k, v in f.props.items() if v is not None},
         "geometry": mapping(_moved(f.geom, dx, dy))} for f in feats]}
    path.write_text(json.dumps(doc, ensure_ascii=False, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return path


def _cameras(hull: shapely.Geometry, key: str) -> tuple[Feature, ...]:
    """Two existing cameras just outside opposite corners of the compound, looking at its centre."""
    ring = np.asarray(hull.buffer(0.0001, join_style="mitre").exterior.coords)[:-1]  # about 10 m outside
    c = np.asarray(hull.centroid.coords[0])
    out = []
    for n, p in enumerate((ring[0], ring[len(ring) // 2])):
        heading = float(np.degrees(np.arctan2(c[0] - p[0], c[1] - p[1])) % 360)
        out.append(Feature(shapely.Point(*p), {"id": f"{key}-old{n}", "model": "bullet-4mp-90", "height_m": 4.0,
                                               "heading_deg": heading}))
    return tuple(out)


def communities(tmp: Path, n: int, rng: np.random.Generator) -> list[CitySite]:
    """``n`` copies of the Kunming compounds, each copy of the 16 shifted 0.02° east (about 2 km)."""
    feats = read_features(KUNMING)
    groups: dict[str, list[Feature]] = {}
    for f in feats:
        if f.props.get("community"):
            groups.setdefault(str(f.props["community"]), []).append(f)
    names = sorted(groups)
    sites = []
    for i in range(n):
        name = names[i % len(names)]
        dx, dy = 0.02 * (i // len(names) + 1), 0.0
        key = f"c{i:02d}"
        hull = _moved(shapely.union_all([f.geom for f in groups[name]]).convex_hull, dx, dy)
        sites.append(CitySite(key=key, name=f"{name}-{i // len(names) + 1}", kind="residential", protection_class=2,
                              households=int(rng.integers(200, 2000)),
                              area=_write(tmp / key / "buildings.geojson", groups[name], dx, dy),
                              existing=_cameras(hull, key) if i % 3 == 0 else (), outline=mapping(hull)))
    return sites


def _windows(buildings: list[Feature], count: int) -> list[shapely.Polygon]:
    cents = shapely.centroid(np.array([f.geom for f in buildings]))
    x0, y0, x1, y1 = shapely.total_bounds(cents)
    cells = [box(x, y, x + WINDOW_DEG, y + WINDOW_DEG) for x in np.arange(x0, x1, WINDOW_DEG)
             for y in np.arange(y0, y1, WINDOW_DEG)]
    counts = [int(shapely.contains(c, cents).sum()) for c in cells]
    order = np.argsort(counts)[::-1][:count]
    return [cells[i] for i in order if counts[i] >= 5]


def centres(tmp: Path, n: int) -> list[CitySite]:
    """Town centres: the busiest 400 m windows of Shanghai and Wuhan, with their roads, shifted north."""
    sources = [(read_features(SHANGHAI, osm_layer="multipolygons"), read_features(SHANGHAI, osm_layer="lines")),
               (read_features(WUHAN / "buildings.geojson"), read_features(WUHAN / "roads.geojson"))]
    sites = []
    per = [n // 2, n - n // 2]
    for s, ((bld, roads), k) in enumerate(zip(sources, per, strict=True)):
        bld = [f for f in bld if f.props.get("building") or s == 1]
        roads = [f for f in roads if f.props.get("highway") or s == 1]
        for j, win in enumerate(_windows(bld, k)):
            key = f"t{s}{j:02d}"
            dx, dy = 0.02 * len(sites), 0.05
            inside = [f for f in bld if win.contains(shapely.centroid(f.geom))]
            cut = [Feature(g, f.props) for f in roads if not (g := f.geom.intersection(win)).is_empty
                   and g.geom_type in ("LineString", "MultiLineString")]
            folder = tmp / key
            area = _write(folder / "buildings.geojson", inside, dx, dy)
            road_file = _write(folder / "roads.geojson", cut, dx, dy) if cut else None
            sites.append(CitySite(key=key, name=f"town centre {len(sites) + 1}", kind="square", protection_class=1,
                                  area=area, roads=road_file, outline=mapping(_moved(win, dx, dy))))
    return sites


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pricing workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _line(label: str, plan, budget: float) -> str:
    opts = [c.options() for c in plan.curves]
    a = allocate_city(plan.curves, plan.sites, CityOptions(budget=budget))
    _, ucost, ugain = uniform_split(opts, plan.weights, budget)
    w = float(plan.weights.sum())

    def per(g: float) -> float:  # weighted coverage points gained per 10,000 yuan of budget
        return 1e4 * 100 * g / w / budget

    ratio = a.gain / ugain if ugain > 0 else float("inf")
    return (f"{label:>22} {budget:>12,.0f}  knapsack {per(a.gain):6.3f} pts/10k yuan (spent {a.cost:,.0f})  "
            f"uniform {per(ugain):6.3f} (spent {ucost:,.0f})  ratio x{ratio:.2f}  bound gap "
            f"{100 * max(0.0, 1 - a.gain / a.bound) if a.bound > 0 else 0:.1f} %")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", type=float, default=2_500_000)
    ap.add_argument("--time-limit", type=float, default=0.5, help="solver seconds per breakpoint")
    ap.add_argument("--steps", default="0.25,0.5,0.75,0.9,1", help="shares of each site's gain to price")
    ap.add_argument("--quick", action="store_true", help="8 communities and 2 town centres")
    args = ap.parse_args()
    rng = np.random.default_rng(15)
    n_comm, n_cent = (8, 2) if args.quick else (COMMUNITIES, CENTRES)
    with tempfile.TemporaryDirectory(prefix="vigil-city-") as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        sites = communities(tmp / "areas", n_comm, rng) + centres(tmp / "areas", n_cent)
        t_in = time.perf_counter() - t0
        opts = CityOptions(budget=args.budget, name="bench city", point_time_limit=args.time_limit,
                           workers=args.workers, steps=tuple(float(x) for x in args.steps.split(",")))
        t1, c1 = time.perf_counter(), _cpu()
        plan = run_city(sites, opts, tmp / "out")
        total, cpu = time.perf_counter() - t1, _cpu() - c1
        s = plan.summary
        full = sum(c.points[-1].cost for c in plan.curves)
        print(f"city: {sum(x.kind == 'residential' for x in sites)} communities + "
              f"{sum(x.kind != 'residential' for x in sites)} town centres, {s['targets']:,} targets, "
              f"{s['cameras_existing']} existing cameras fixed; inputs {t_in:.1f} s; {os.cpu_count()} cpus, "
              f"{args.workers} workers, {args.time_limit} s per breakpoint, steps {args.steps}")
        print(f"stages (s): {s['seconds']}; total {total:.1f} s wall against the goal of {GOAL_S:.0f} s: "
              f"{'OK' if total < GOAL_S else 'MISSED'}; {cpu:.1f} CPU-s (all processes; load average "
              f"{os.getloadavg()[0]:.1f} on this machine)")
        print(f"breakpoints: {sum(len(c.points) for c in plan.curves)} over {len(plan.curves)} sites; "
              f"covering all that can be seen costs {full:,.0f} yuan")
        print(f"budget {args.budget:,.0f}: weighted coverage {100 * s['coverage_before']:.1f} % -> "
              f"{100 * s['coverage_after']:.1f} % (uniform split {100 * s['uniform']['coverage_after']:.1f} %), "
              f"{s['cameras_new']} new cameras in {len(s['packages'])} work packages, spent {s['cost_new']:,.0f}; "
              f"exact over breakpoints: {s['exact']}; bound gap {100 * s['gap']:.1f} %")
        print(_line("chosen budget", plan, args.budget))
        for share in (0.25, 0.5, 0.75):
            print(_line(f"{share:.0%} of full cover", plan, share * full))
        print(f"report files: {sorted(p.name for p in (tmp / 'out').iterdir() if p.is_file())}")
    return 0 if total < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
