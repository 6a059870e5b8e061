"""The planning pipeline: read the area, sample targets, place candidates, compute visibility, solve, report.

``run_plan(request, out_dir)`` is what ``vigil plan AREA --out DIR`` and the API call. It touches no
database: existing cameras from the registry are passed in as features.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from scipy import sparse

from vigil.coverage.candidates import CandidateOptions, existing_poses, make_candidates
from vigil.coverage.geo import (
    Buildings,
    Feature,
    LocalFrame,
    load_buildings,
    load_lines,
    load_points,
    load_polygons,
    osm_entrances,
    osm_towers,
)
from vigil.coverage.optics import Catalog, level_ppm, load_catalog
from vigil.coverage.optimize import CoverageProblem, Plan, solve
from vigil.coverage.targets import Community, derive_communities, make_targets, study_area
from vigil.coverage.visibility import Obstacles, Poses, Targets, coverage_matrix

__all__ = ["STAGES", "PlanRequest", "PlanResult", "run_plan"]

_MUST_LEVEL = {"dori2015": "recognise", "iec2025": "perceive"}
STAGES = ("read", "targets", "candidates", "visibility", "optimise", "report")
Progress = Callable[[str, str], None]


@dataclass(frozen=True, kw_only=True)
class PlanRequest:
    """Everything ``vigil plan`` accepts (paths, levels, mode and discretisation)."""

    area: Path
    roads: Path | None = None
    boundary: Path | None = None
    must_watch: Path | None = None
    existing: Path | None = None
    catalog: Path | None = None
    level: str = "observe"
    must_level: str | None = None  # default: recognise (dori2015) or perceive (iec2025), both 125 px/m
    profile: str = "dori2015"
    target: float | None = 1.0
    budget: float | None = None
    k: int = 1
    spacing: float = 5.0
    headings: int = 8
    wall_spacing: float = 10.0
    pole_spacing: float = 20.0
    high_points: int = 1
    eagle_eye: bool = False  # a town centre: rooftop and tower high points (panoramic, PTZ tours)
    rooftops: int = 6
    crs: str | None = None
    solver: str = "auto"
    time_limit: float = 60.0
    mip_gap: float = 1e-4
    night: bool = False
    name: str = ""
    lang: str = "en"  # the language of report.html's headings (en, zh-CN)


@dataclass
class PlanResult:
    """What a run produced, in memory (the files are in ``out_dir``)."""

    summary: dict
    out_dir: Path
    frame: LocalFrame
    buildings: Buildings
    communities: list[Community]
    targets: Targets
    poses: Poses
    specs: list
    matrix: sparse.csc_matrix  # targets x poses, from coverage_matrix
    ranges: np.ndarray
    tilts: np.ndarray
    plan: Plan
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _stage(name: str, timings: dict[str, float], progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(name, "start")
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 3)
    if progress:
        progress(name, "done")


def _inputs(req: PlanRequest, frame: LocalFrame, b: Buildings) -> tuple:
    roads = load_lines(req.roads, frame, crs=req.crs) if req.roads else []
    if not roads and req.area.name.lower().endswith((".osm", ".pbf")):
        roads = load_lines(req.area, frame, crs=req.crs)
    default = req.name or req.area.stem
    boundaries = [Community(n, g) for n, g in load_polygons(req.boundary, frame, crs=req.crs)] if req.boundary else []
    communities = boundaries or derive_communities(b, default)
    area = study_area(b, boundaries)
    must = load_points(req.must_watch, frame, crs=req.crs) if req.must_watch else []
    must += osm_entrances(req.area, frame)
    return roads, communities, area, must, bool(boundaries)


def _clip(lines: list, area: shapely.Geometry) -> list:
    if not lines:
        return []
    out = shapely.intersection(np.array(lines, dtype=object), area)
    return [q for g in out for q in shapely.get_parts(g) if q.geom_type == "LineString" and q.length > 0]


def run_plan(req: PlanRequest, out_dir: str | Path, *, existing: list[Feature] | None = None,
             progress: Progress | None = None) -> PlanResult:
    """Plan ``req`` and write the report files to ``out_dir``; ``existing`` are WGS84 camera points."""
    from vigil.coverage.report import summarise, write_outputs

    out = Path(out_dir)
    timings: dict[str, float] = {}
    with _stage("read", timings, progress):
        catalog: Catalog = load_catalog(req.catalog)
        ppm = level_ppm(req.level, req.profile)
        must_ppm = max(level_ppm(req.must_level or _MUST_LEVEL.get(req.profile, "125"), req.profile), ppm)
        b, frame = load_buildings(req.area, crs=req.crs)
        roads, communities, area, must, _ = _inputs(req, frame, b)
        cams = [Feature(frame.local(f.geom), f.props) for f in existing or []]
        if req.existing:
            cams += load_points(req.existing, frame, crs=req.crs)
    with _stage("targets", timings, progress):
        targets = make_targets(b, communities, roads=roads, must_watch=must, spacing=req.spacing, ppm=ppm,
                               must_ppm=must_ppm, area=area)
    with _stage("candidates", timings, progress):
        opts = CandidateOptions(wall_spacing=req.wall_spacing, pole_spacing=req.pole_spacing,
                                headings=req.headings, high_points_per_community=req.high_points,
                                eagle_eye=req.eagle_eye, rooftops=req.rooftops, ppm=ppm)
        grounds = [] if roads else [c.polygon for c in communities]
        towers = osm_towers(req.area, frame) if req.eagle_eye else []
        cand = make_candidates(b, catalog, roads=_clip(roads, area), grounds=grounds, entrances=must, area=area,
                               opts=opts, towers=towers)
        fixed, specs = existing_poses(cams, catalog)
        poses = _concat(fixed, cand)
    with _stage("visibility", timings, progress):
        obst = Obstacles.build(b.polygons, b.heights)
        a, ranges, tilts = coverage_matrix(poses, targets, obst, specs, ppm, ir_limit=req.night,
                                           min_dwell=catalog.min_dwell_fraction)
    with _stage("optimise", timings, progress):
        problem = CoverageProblem.from_matrix(a, poses.cost, fixed=poses.fixed, k=req.k, target=req.target,
                                              budget=req.budget)
        plan = solve(problem, solver=req.solver, time_limit=req.time_limit, mip_gap=req.mip_gap)  # type: ignore[arg-type]
    res = PlanResult({}, out, frame, b, communities, targets, poses, specs, a, ranges, tilts, plan, timings)
    with _stage("report", timings, progress):
        res.summary = summarise(res, req, ppm)
        write_outputs(res, req)
    res.summary["seconds"] = dict(timings, total=round(sum(timings.values()), 3))
    (out / "summary.json").write_text(json.dumps(res.summary, indent=2, ensure_ascii=False))
    return res


def _concat(a: Poses, b: Poses) -> Poses:
    return Poses(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Poses.__dataclass_fields__))
