"""Plan a whole city: a cost–coverage curve per site, then one budget allocated across all of them.

``run_city(sites, options, out_dir, progress=..., cancelled=...)`` is what ``vigil plan city`` and the API
call; it reports progress as ``progress(stage, fraction)`` and stops between sites when ``cancelled()``
says so, so it can run as a background job.

For each site the per-area planner (:func:`~vigil.coverage.plan.run_plan`) builds the coverage matrix
once, with the site's in-service cameras as fixed columns; :func:`~vigil.coverage.optimize.solve` then finds
the least-cost plan for several coverage levels between the coverage the existing cameras give and full
coverage of what can be seen. Those plans are the site's breakpoints; :mod:`vigil.coverage.city_alloc`
chooses one per site within the budget (exact multiple-choice knapsack) and bounds the best possible.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from vigil.core.errors import InputError, VigilError
from vigil.coverage.city_alloc import Option, allocate, site_weights, uniform_split, upper_bound
from vigil.coverage.city_sites import CitySite
from vigil.coverage.optimize import SOLVERS, CoverageProblem, solve
from vigil.coverage.plan import PlanRequest, run_plan

__all__ = ["STAGES", "Breakpoint", "CityOptions", "CityPlan", "CityPlanCancelled", "SiteCurve", "run_city",
           "site_curve"]

STAGES = ("curves", "allocate", "report")
DEFAULT_STEPS = (0.25, 0.5, 0.75, 0.9, 1.0)
CityProgress = Callable[[str, float], None]


class CityPlanCancelled(VigilError):
    """The city plan was cancelled before it finished."""


@dataclass(frozen=True, kw_only=True)
class CityOptions:
    """Everything a city plan accepts (the CLI, the API and the bench use this one model)."""

    budget: float
    name: str = ""
    level: str = "observe"
    profile: str = "dori2015"
    spacing: float = 5.0
    steps: tuple[float, ...] = DEFAULT_STEPS  # shares of each site's possible gain to price
    point_time_limit: float = 2.0  # seconds for the solver at each breakpoint
    solver: str = "auto"
    catalog: Path | None = None
    workers: int = 1

    def check(self) -> None:
        """Refuse bad options with a specific message."""
        if not (math.isfinite(self.budget) and self.budget >= 0):
            raise InputError(f"the city budget must be a non-negative number of yuan, got {self.budget}")
        if not self.steps or any(not 0 < s <= 1 for s in self.steps):
            raise InputError("steps must be shares in (0, 1], e.g. 0.25,0.5,0.75,1")
        if not 0 < self.point_time_limit <= 600:
            raise InputError("the time limit per breakpoint must be in (0, 600] seconds")
        if self.solver not in SOLVERS:
            raise InputError(f"solver must be one of {', '.join(SOLVERS)}")
        if not 1 <= self.workers <= 64:
            raise InputError("workers must be between 1 and 64")
        if not 0.5 <= self.spacing <= 100:
            raise InputError("target spacing must be between 0.5 and 100 metres")


@dataclass(frozen=True)
class Breakpoint:
    """A plan of one site at one coverage level: its cost, the coverage it reaches, the proven bound."""

    cost: float
    coverage: float  # share of the site's targets seen after the plan
    level: float  # coverage asked for
    lower_bound: float  # no plan reaching ``level`` costs less
    status: str
    cameras: tuple[dict[str, Any], ...] = ()  # new cameras: lon, lat, model, height_m, heading_deg, cost, mount

    def models(self) -> dict[str, int]:
        """Number of new cameras per model."""
        return dict(Counter(c["model"] for c in self.cameras))


@dataclass
class SiteCurve:
    """A site's cost–coverage curve: breakpoints in increasing coverage, "do nothing" first."""

    key: str
    name: str
    targets: int
    coverable: float  # share of targets some camera (existing or candidate) can see
    before: float  # share seen by the existing in-service cameras
    cameras_existing: int
    points: list[Breakpoint]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    best_ratio: float | None = None  # most coverage share one new camera adds per yuan (for the bound)

    def options(self) -> list[Option]:
        """The breakpoints as knapsack options."""
        return [Option(p.cost, p.coverage) for p in self.points]

    def levels(self) -> list[tuple[float, float]]:
        """(coverage asked, proven least cost) per priced level, for the upper bound."""
        return [(p.level, p.lower_bound) for p in self.points[1:]]


def _cameras(res: Any, chosen: np.ndarray) -> tuple[dict[str, Any], ...]:
    poses = res.poses
    lon, lat = res.frame.lonlat(poses.xy[chosen, 0], poses.xy[chosen, 1])
    return tuple({"lon": round(float(x), 7), "lat": round(float(y), 7), "model": res.specs[poses.model[j]].name,
                  "height_m": round(float(poses.height[j]), 2), "heading_deg": round(float(poses.heading[j]), 1),
                  "cost": float(poses.cost[j]), "mount": str(poses.mount[j])}
                 for j, x, y in zip(chosen, lon, lat, strict=True))


def _whole_bound(lb: float, costs: np.ndarray) -> float:
    """A cost bound raised to the next multiple of the costs' common divisor (every plan costs a multiple)."""
    if math.isnan(lb) or lb <= 0:
        return 0.0
    if len(costs) and np.all(costs == np.round(costs)):
        g = float(np.gcd.reduce(costs.astype(np.int64)))
        if g > 0:
            return math.ceil(lb / g - 1e-6) * g
    return float(lb)


def _best_ratio(a: Any, cost: np.ndarray, fixed: np.ndarray, unseen: np.ndarray, n: int) -> float | None:
    """The most coverage share a single new camera adds per yuan (None when some camera is free)."""
    free = np.flatnonzero(~fixed)
    if not len(free) or np.any(cost[free] <= 0):
        return None if len(free) else 0.0
    seen = np.asarray(sparse.csr_matrix(a)[np.flatnonzero(unseen)][:, free].sum(axis=0)).ravel()
    return float(np.max(seen / cost[free])) / n


def site_curve(site: CitySite, opts: CityOptions, out_dir: Path) -> SiteCurve:
    """Price ``site`` at each step between its current and its full coverage (``out_dir``: its study files)."""
    t0 = time.perf_counter()
    req = PlanRequest(area=site.area, roads=site.roads, boundary=site.boundary, catalog=opts.catalog,
                      level=opts.level, profile=opts.profile, spacing=opts.spacing, solver="greedy",
                      name=site.name, target=1.0)
    res = run_plan(req, out_dir, existing=list(site.existing))
    a, cost, fixed = res.matrix, res.poses.cost, res.poses.fixed
    n = max(len(res.targets), 1)
    before_n = int((res.plan.count_before > 0).sum())
    cover_n = int(res.plan.coverable.sum())
    before = before_n / n
    points = [Breakpoint(0.0, before, before, 0.0, "existing")]
    seen: set[bytes] = set()
    for step in sorted(set(opts.steps)):
        want = math.ceil(before_n + step * (cover_n - before_n) - 1e-9)
        if want <= before_n or cover_n == 0:
            continue
        problem = CoverageProblem.from_matrix(a, cost, fixed=fixed, target=min(want / cover_n, 1.0))
        plan = solve(problem, solver=opts.solver, time_limit=opts.point_time_limit)  # type: ignore[arg-type]
        lb = _whole_bound(plan.lower_bound, cost[~fixed])
        key = np.sort(plan.chosen).tobytes()
        if key in seen:  # the plan for a lower level already reaches this one
            continue
        seen.add(key)
        points.append(Breakpoint(float(plan.cost), float((plan.count > 0).sum() / n), want / n, min(lb, plan.cost),
                                 plan.status, _cameras(res, plan.chosen)))
    return SiteCurve(site.key, site.name, len(res.targets), cover_n / n, before, int(fixed.sum()), points,
                     round(time.perf_counter() - t0, 3), list(res.summary.get("warnings", [])),
                     _best_ratio(a, cost, fixed, res.plan.count_before == 0, n))


@dataclass
class CityPlan:
    """The allocation and everything the report shows."""

    options: CityOptions
    sites: list[CitySite]
    curves: list[SiteCurve]
    weights: np.ndarray
    choice: np.ndarray
    cost: float
    gain: float  # weighted coverage gained (sum of weight x coverage share gained)
    exact: bool
    bound: float  # upper bound on the gain of any plans within the budget
    uniform_choice: np.ndarray
    uniform_cost: float
    uniform_gain: float
    curve_cost: np.ndarray
    curve_coverage: np.ndarray  # weighted city coverage within each budget
    uniform_curve: list[tuple[float, float]]
    skipped: list[Any] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # city.json, filled by the report


def _curves(sites: Sequence[CitySite], opts: CityOptions, out: Path, progress: CityProgress,
            cancelled: Callable[[], bool]) -> list[SiteCurve]:
    done: list[SiteCurve | None] = [None] * len(sites)
    dirs = [out / "sites" / s.key for s in sites]
    progress("curves", 0.0)
    if opts.workers == 1:
        for i, s in enumerate(sites):
            if cancelled():
                raise CityPlanCancelled("the city plan was cancelled")
            done[i] = site_curve(s, opts, dirs[i])
            progress("curves", (i + 1) / len(sites))
        return [c for c in done if c is not None]
    ctx = multiprocessing.get_context("spawn")  # safe under a threaded server
    with ProcessPoolExecutor(max_workers=opts.workers, mp_context=ctx) as pool:
        futs: dict[Future[SiteCurve], int] = {pool.submit(site_curve, s, opts, d): i
                                              for i, (s, d) in enumerate(zip(sites, dirs, strict=True))}
        pending = set(futs)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if cancelled():
                pool.shutdown(wait=False, cancel_futures=True)
                raise CityPlanCancelled("the city plan was cancelled")
            for f in finished:
                done[futs[f]] = f.result()
            if finished:
                progress("curves", sum(c is not None for c in done) / len(sites))
    return [c for c in done if c is not None]


def _uniform_curve(options: list[list[Option]], w: np.ndarray, before_w: float, top: float,
                   points: int = 41) -> list[tuple[float, float]]:
    total = float(w.sum())
    return [(b, (before_w + uniform_split(options, w, b)[2]) / total)
            for b in np.linspace(0, top, points).tolist()]


def allocate_city(curves: list[SiteCurve], sites: Sequence[CitySite], opts: CityOptions) -> CityPlan:
    """Allocate the budget over the curves (exact over the breakpoints), with the bound and the uniform split."""
    w = site_weights([s.protection_class for s in sites], [s.people for s in sites])
    options = [c.options() for c in curves]
    a = allocate(options, w, opts.budget)
    top = max(opts.budget, sum(o[-1].cost for o in options))
    full = allocate(options, w, opts.budget, curve_to=top)
    before_w = float(sum(wi * c.before for wi, c in zip(w, curves, strict=True)))
    ub = upper_bound([c.levels() for c in curves], [c.before for c in curves], w, opts.budget,
                     ratios=[c.best_ratio for c in curves])
    pick, ucost, ugain = uniform_split(options, w, opts.budget)
    return CityPlan(opts, list(sites), curves, w, a.choice, a.cost, a.value, a.exact, max(ub, a.bound, a.value),
                    pick, ucost, ugain, full.curve_cost, (before_w + full.curve_value) / float(w.sum() or 1.0),
                    _uniform_curve(options, w, before_w, top))


def run_city(sites: Sequence[CitySite], opts: CityOptions, out_dir: str | Path, *,
             progress: CityProgress | None = None, cancelled: Callable[[], bool] | None = None,
             skipped: Sequence[Any] = ()) -> CityPlan:
    """Price every site, allocate the budget, and write the city report into ``out_dir``."""
    from vigil.coverage.city_report import write_city_report  # the report draws with matplotlib (heavy)

    opts.check()
    if not sites:
        raise InputError("no site with a polygon and building data to plan")
    keys = [s.key for s in sites]
    if len(set(keys)) != len(keys):
        raise InputError("site keys must be unique")
    prog = progress or (lambda stage, fraction: None)
    stop = cancelled or (lambda: False)
    out = Path(out_dir)
    t0 = time.perf_counter()
    curves = _curves(sites, opts, out, prog, stop)
    t1 = time.perf_counter()
    prog("allocate", 0.0)
    plan = allocate_city(curves, sites, opts)
    plan.skipped = list(skipped)
    prog("allocate", 1.0)
    t2 = time.perf_counter()
    if stop():
        raise CityPlanCancelled("the city plan was cancelled")
    prog("report", 0.0)
    plan.seconds = {"curves": round(t1 - t0, 3), "allocate": round(t2 - t1, 3)}
    plan.summary = write_city_report(plan, out)
    plan.seconds["report"] = round(time.perf_counter() - t2, 3)
    plan.summary["seconds"] = dict(plan.seconds)
    (out / "city.json").write_text(json.dumps(plan.summary, indent=1, ensure_ascii=False), encoding="utf-8")
    prog("report", 1.0)
    return plan
