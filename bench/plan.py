"""Coverage-planning benchmark on the real areas shipped in the repository.

Prints, per case: targets, candidates, visibility time (and per site), solve time, the MILP status and gap,
the camera count of the plan against greedy alone and against a uniform grid layout that reaches the same
coverage (these ratios are the point), and the end-to-end time against the goal of the issue.

    .venv/bin/python bench/plan.py [--quick] [--cases kunming-community,shanghai-observe,...]
    .venv/bin/python bench/plan.py --gaps [--areas community,kunming,...] [--limits 30,60] [--solvers highs,cpsat]
        [--variants lagrange,dive,ruin,cuts,lns] [--matrix-cache DIR]

``--gaps`` prints the gap table instead: each area planned with the shipped multi-model catalog, the
proven gap at each time limit with HiGHS and with CP-SAT, beside greedy alone and greedy + local search,
for the formulation before the LP dive (``lagrange``: Lagrangian bound and start per block), with it
(``dive``: also the LP bound and the LP dive's start, ``vigil.coverage.dive``) and with the start improved
by ruin-and-recreate local search as well (``ruin``) and with each block's LP bound raised by {0, 1/2}-cuts
on row triples (``cuts``, ``vigil.coverage.cuts``) and with windows of each large block's start re-solved
exactly (``lns``, ``vigil.coverage.lns``, the default of ``solve``). ``--matrix-cache`` keeps
the matrices, so that a later run solves the same instances without building them again.

The discretisation is the prototype's (``data/README.md``): targets every 5 m, one 2560 px / 90°
camera mounted at 4 m, 8 headings, wall and pole candidate sites.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely
from scipy import sparse

from vigil.coverage.heuristics import greedy
from vigil.coverage.optics import catalog_from_dict, level_ppm
from vigil.coverage.optimize import CoverageProblem, solve
from vigil.coverage.plan import PlanRequest, run_plan
from vigil.coverage.visibility import Obstacles, Poses, coverage_matrix
from vigil.demo.city import map_data_dir

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"  # Shanghai and Wuhan; Kunming ships inside the package (the demo needs it)
KUNMING = map_data_dir() / "kunming_jinjiang/buildings.geojson"
CATALOG = ("heights: {wall: 4.0, pole: 4.0, entrance: 4.0}\nmodels:\n"
           "  - {name: bullet-2560-90, h_res_px: 2560, v_res_px: 1440, hfov_deg: 90, cost: 1,"
           " mounts: [wall, pole, entrance]}\n")

# name: (request options, goal seconds end to end, largest gap the goal allows (None: any), goal description)
CASES: dict[str, tuple[dict, float, float | None, str]] = {
    "kunming-community": ({"area": "community", "level": "observe", "time_limit": 4}, 5, None,
                          "one community < 5 s"),
    "shanghai-observe": ({"area": DATA / "shanghai_shu/map.osm", "level": "observe", "time_limit": 25}, 30, 0.0,
                         "proven optimal < 30 s"),
    "shanghai-obs-dense": ({"area": DATA / "shanghai_shu/map.osm", "level": "observe", "time_limit": 110,
                            "pole_spacing": 10.0}, 120, None, "denser poles (10 m): fewer cameras, slower proof"),
    "shanghai-detect": ({"area": DATA / "shanghai_shu/map.osm", "level": "detect", "time_limit": 110,
                         "mip_gap": 0.01}, 120, 0.01, "gap <= 1 % < 2 min"),
    "kunming-observe": ({"area": KUNMING, "level": "observe",
                         "time_limit": 120}, 180, None, "140 buildings, open ground (no roads) < 3 min"),
    "wuhan-observe": ({"area": DATA / "wuhan_tilezen/buildings.geojson", "roads": DATA / "wuhan_tilezen/roads.geojson",
                       "level": "observe", "time_limit": 120}, 180, None, "239 buildings with roads < 3 min"),
    "town-2000": ({"area": "town", "level": "observe", "time_limit": 120}, 180, None, "~2,000 buildings < 3 min"),
    "community-catalog": ({"area": "community", "level": "observe", "time_limit": 30, "catalog": "default"}, 35, None,
                          "the shipped 5-model catalog (costs, not counts)"),
}


def _town(tmp: Path) -> tuple[Path, Path]:
    """A town of about 2,000 real footprints: the Wuhan area tiled 3 x 3 (roads too), 0.025° apart."""
    out = {}
    for kind in ("buildings", "roads"):
        src = json.loads((DATA / f"wuhan_tilezen/{kind}.geojson").read_text())
        feats = []
        for i in range(3):
            for j in range(3):
                for f in src["features"]:
                    g = json.loads(json.dumps(f["geometry"]))
                    g["coordinates"] = _shift(g["coordinates"], 0.025 * i, 0.02 * j)
                    props = dict(f["properties"], id=f"{f['properties'].get('id')}-{i}{j}")
                    feats.append({"type": "Feature", "properties": props, "geometry": g})
        out[kind] = tmp / f"town_{kind}.geojson"
        out[kind].write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return out["buildings"], out["roads"]


def _shift(c, dx: float, dy: float):
    if isinstance(c[0], int | float):
        return [c[0] + dx, c[1] + dy, *c[2:]]
    return [_shift(x, dx, dy) for x in c]


def _community(tmp: Path) -> Path:
    src = json.loads((KUNMING).read_text())
    feats = [f for f in src["features"] if f["properties"].get("community") == "金色年华"]
    p = tmp / "jinse.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
    return p


def greedy_alone(res) -> int:
    """Plain greedy (no pruning, no local search) on the same matrix and targets."""
    a = res.matrix.tocsc()
    free = np.flatnonzero(~res.poses.fixed)
    need = ((res.plan.count_before == 0) & res.plan.coverable).astype(np.int64)
    return len(greedy(a[:, free], res.poses.cost[free], need, np.ones(len(need))))


def grid_layout(res, cat, ppm: float) -> tuple[int, float, float]:
    """Cameras on a uniform grid (4 headings per pole) at the coarsest spacing that matches the plan's coverage."""
    goal = float((res.plan.count > 0).mean())
    polys = res.buildings.polygons
    obst = Obstacles.build(polys, res.buildings.heights)
    xmin, ymin, xmax, ymax = shapely.total_bounds(polys)
    blocked = shapely.union_all([p.buffer(0.3) for p in polys])
    best = (0, 0.0, 0.0)
    for g in (40, 30, 25, 20, 16, 13, 10, 8, 6, 5):
        gx, gy = np.meshgrid(np.arange(xmin - 15, xmax + 15, g), np.arange(ymin - 15, ymax + 15, g))
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        xy = xy[~shapely.contains_xy(blocked, xy[:, 0], xy[:, 1])]
        n = len(xy) * 4
        poses = Poses(np.repeat(xy, 4, axis=0), np.full(n, 4.0), np.tile([0.0, 90, 180, 270], len(xy)),
                      np.full(n, np.nan), np.zeros(n, np.int64), np.full(n, "pole", dtype=object), np.ones(n),
                      np.zeros(n, bool), np.full(n, "", dtype=object))
        a, _, _ = coverage_matrix(poses, res.targets, obst, list(cat.models), ppm)
        used = np.asarray(a.sum(axis=0)).ravel() > 0
        cov = float((np.asarray(a.sum(axis=1)).ravel() > 0).mean())
        best = (int(used.sum()), cov, float(g))
        if cov >= goal - 1e-9:
            break
    return best


def run_case(name: str, tmp: Path, cat_path: Path) -> dict:
    opts, goal_s, max_gap, goal_txt = CASES[name]
    opts = dict(opts)
    if opts["area"] == "community":
        opts["area"] = _community(tmp)
    elif opts["area"] == "town":
        opts["area"], opts["roads"] = _town(tmp)
    t0 = time.perf_counter()
    if opts.pop("catalog", None) != "default":
        opts["catalog"] = cat_path
    res = run_plan(PlanRequest(**opts), tmp / name)
    wall = time.perf_counter() - t0
    s = res.summary
    sites = len(np.unique(np.round(res.poses.xy, 2), axis=0))
    cat = catalog_from_dict({"models": [{"name": "b", "h_res_px": 2560, "v_res_px": 1440, "hfov_deg": 90,
                                         "cost": 1}]})
    g_alone = greedy_alone(res)
    grid_n, grid_cov, grid_g = grid_layout(res, cat, level_ppm(opts["level"]))
    new = s["cameras_new"]
    gap_ok = max_gap is None or s["status"] == "optimal" or (max_gap > 0 and s["gap"] is not None
                                                              and s["gap"] <= max_gap)
    ok = wall <= goal_s and gap_ok
    return {"case": name, "targets": s["targets"], "candidates": s["candidates"], "sites": sites,
            "vis_s": s["seconds"]["visibility"], "vis_ms_site": 1000 * s["seconds"]["visibility"] / max(sites, 1),
            "solve_s": s["seconds"]["optimise"], "status": s["status"], "gap": s["gap"], "cameras": new,
            "lower_bound": s["lower_bound"], "greedy_alone": g_alone, "greedy_ratio": g_alone / max(new, 1),
            "grid": grid_n, "grid_cov": grid_cov, "grid_spacing": grid_g, "grid_ratio": grid_n / max(new, 1),
            "coverage": s["coverage_after"], "blind": s["blind_spots"], "total_s": wall, "goal": goal_txt,
            "goal_met": ok}


def _fmt(r: dict) -> str:
    gap = "—" if r["gap"] is None or (isinstance(r["gap"], float) and math.isnan(r["gap"])) else f"{100 * r['gap']:.2f}%"
    return (f"{r['case']:<18} {r['targets']:>6} {r['candidates']:>7} {r['vis_s']:>6.2f} {r['vis_ms_site']:>6.2f} "
            f"{r['solve_s']:>7.2f} {r['status']:>10} {gap:>7} {r['cameras']:>6} {r['greedy_alone']:>6} "
            f"{r['greedy_ratio']:>5.3f} {r['grid']:>6} {r['grid_ratio']:>5.2f} {100 * r['coverage']:>6.2f}% "
            f"{r['total_s']:>7.1f} {'yes' if r['goal_met'] else 'NO':>4}  {r['goal']}")


# gap table: area -> request options (the shipped catalog; the matrix is built once, then solved per row)
GAP_AREAS: dict[str, dict] = {
    "community": {"area": "community", "level": "observe"},
    "kunming-16": {"area": KUNMING, "level": "observe"},
    "shanghai-observe": {"area": DATA / "shanghai_shu/map.osm", "level": "observe"},
    "shanghai-detect": {"area": DATA / "shanghai_shu/map.osm", "level": "detect"},
    "wuhan": {"area": DATA / "wuhan_tilezen/buildings.geojson", "roads": DATA / "wuhan_tilezen/roads.geojson",
              "level": "observe"},
    "town": {"area": "town", "level": "observe"},
}


# the formulation before the LP dive, with it, with ruin-and-recreate on each block's start as well, with
# the LP bound raised by {0, 1/2}-cuts on row triples, and with the large-neighbourhood search on large blocks'
# starts as well (the default of solve)
VARIANTS: dict[str, dict[str, bool]] = {"lagrange": {"dive": False, "ruin": False, "cuts": False, "lns": False},
                                        "dive": {"dive": True, "ruin": False, "cuts": False, "lns": False},
                                        "ruin": {"dive": True, "ruin": True, "cuts": False, "lns": False},
                                        "cuts": {"dive": True, "ruin": True, "cuts": True, "lns": False},
                                        "lns": {"dive": True, "ruin": True, "cuts": True, "lns": True}}


def _gap_matrix(name: str, tmp: Path, cache: Path | None) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray]:
    """An area's coverage matrix, column costs and fixed columns, from ``cache`` if saved there.

    Otherwise built and saved there, so that runs at different times solve the very same instances.
    """
    if cache is not None and (cache / f"{name}_a.npz").is_file():
        meta = np.load(cache / f"{name}_meta.npz")
        return sparse.load_npz(cache / f"{name}_a.npz").tocsc(), meta["cost"], meta["fixed"]
    opts = dict(GAP_AREAS[name])
    if opts["area"] == "community":
        opts["area"] = _community(tmp)
    elif opts["area"] == "town":
        opts["area"], opts["roads"] = _town(tmp)
    res = run_plan(PlanRequest(**opts, solver="greedy", time_limit=1), tmp / f"gap-{name}")
    a = sparse.csc_matrix(res.matrix)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        sparse.save_npz(cache / f"{name}_a.npz", a)
        np.savez(cache / f"{name}_meta.npz", cost=res.poses.cost, fixed=res.poses.fixed)
    return a, np.asarray(res.poses.cost, float), np.asarray(res.poses.fixed, bool)


def gap_rows(name: str, tmp: Path, limits: list[float], solvers: list[str], variants: list[str],
             cache: Path | None = None) -> dict:
    """One area of the gap table: its matrix once, then each variant and solver at each time limit."""
    a, cost, fixed = _gap_matrix(name, tmp, cache)
    problem = CoverageProblem.from_matrix(a, cost, fixed=fixed)
    free = np.flatnonzero(~fixed)
    seen = np.asarray(a.sum(axis=1)).ravel() > 0
    need = ((np.asarray(a[:, np.flatnonzero(fixed)].sum(axis=1)).ravel() == 0) & seen).astype(np.int64)
    alone = greedy(a[:, free], cost[free], need, np.ones(len(need)))
    row = {"area": name, "targets": int(a.shape[0]), "candidates": int(len(free)),
           "greedy_alone": float(cost[free][alone].sum()), "greedy_ls": float(solve(problem, solver="greedy").cost),
           "runs": {}}
    for variant in variants:
        for solver in solvers:
            for lim in limits:
                t0 = time.perf_counter()
                pl = solve(problem, solver=solver, time_limit=lim, **VARIANTS[variant])  # type: ignore[arg-type]
                row["runs"][f"{variant}:{solver}@{lim:g}"] = {"cost": pl.cost, "bound": pl.lower_bound, "gap": pl.gap,
                                                             "status": pl.status, "wall_s": time.perf_counter() - t0}
    return row


def _gap_fmt(r: dict, keys: list[str]) -> str:
    best = min(v["cost"] for v in r["runs"].values())
    cells = "".join(f" {100 * r['runs'][k]['gap']:>6.2f}% {r['runs'][k]['cost']:>10,.0f}" for k in keys)
    last = keys[-1].split("@")[1]
    ok = min(r["runs"][k]["gap"] for k in keys if k.endswith(f"@{last}") and k.startswith(keys[-1].split(":")[0]))
    ok = ok <= 0.01
    return (f"{r['area']:<17} {r['targets']:>6} {r['candidates']:>7} {r['greedy_alone']:>10,.0f} "
            f"{r['greedy_ls']:>10,.0f}{cells} {r['greedy_alone'] / best:>5.2f} "
            f"{'yes' if ok else 'NO':>4}")


def gaps_main(areas: list[str], limits: list[float], as_json: bool, solvers: list[str], variants: list[str],
              cache: Path | None = None) -> int:
    """Print the gap table (and the rows as JSON with --json)."""
    keys = [f"{v}:{s}@{lim:g}" for v in variants for s in solvers for lim in sorted(limits)]
    head = "".join(f" {k:>18}" for k in keys)
    print(f"{'area':<17} {'targets':>6} {'cands':>7} {'greedy':>10} {'greedy+LS':>10}{head} {'g/bst':>5} "
          f"{'<=1%':>4}\n{'':<54}" + " gap     cost     " * len(keys), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in areas:
            r = gap_rows(name, Path(d), limits, solvers, variants, cache)
            rows.append(r)
            print(_gap_fmt(r, keys), flush=True)
    if as_json:
        print(json.dumps(rows, indent=1))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    ap.add_argument("--gaps", action="store_true", help="the multi-model gap table (HiGHS and CP-SAT)")
    ap.add_argument("--areas", default=",".join(GAP_AREAS), help="gap table areas: " + ", ".join(GAP_AREAS))
    ap.add_argument("--limits", default="30,60", help="gap table time limits in seconds")
    ap.add_argument("--solvers", default="highs,cpsat", help="gap table solvers")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="gap table formulations: " + ", ".join(VARIANTS))
    ap.add_argument("--matrix-cache", type=Path, default=None,
                    help="gap table: read each area's matrix from this folder if saved there, else build and save it")
    args = ap.parse_args()
    missing = [p for p in (KUNMING, DATA / "shanghai_shu/map.osm", DATA / "wuhan_tilezen/roads.geojson")
               if not p.is_file()]
    if missing:
        print(f"map data missing: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    if args.gaps:
        return gaps_main([a.strip() for a in args.areas.split(",")], [float(x) for x in args.limits.split(",")],
                         args.json, args.solvers.split(","), args.variants.split(","), args.matrix_cache)
    rows = []
    print(f"{'case':<18} {'targets':>6} {'cands':>7} {'vis s':>6} {'ms/st':>6} {'solve s':>7} {'status':>10} "
          f"{'gap':>7} {'cams':>6} {'greedy':>6} {'g/opt':>5} {'grid':>6} {'gr/op':>5} {'cover':>7} {'total':>7} "
          f"{'goal':>4}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cat_path = tmp / "catalog.yaml"
        cat_path.write_text(CATALOG)
        for name in args.cases.split(","):
            r = run_case(name.strip(), tmp, cat_path)
            rows.append(r)
            print(_fmt(r), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
