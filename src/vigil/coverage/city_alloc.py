"""One city budget across many sites: site weights, and an exact multiple-choice knapsack over cost curves.

Each site offers a few *options* (breakpoints of its cost–coverage curve, "do nothing" first). The city
chooses one option per site so that the total cost stays within the budget and the weighted coverage gained
is greatest. :func:`allocate` solves this exactly by dynamic programming over cost in units of the greatest
common divisor of all costs (yuan when costs are whole yuan), so the answer is optimal over the breakpoints.
When the table would be too large the costs are rounded up to a coarser unit (the plan stays within the
budget) and the same table with costs rounded down bounds the optimum from above.

:func:`upper_bound` bounds any allocation of *any* plans, not only the breakpoints: a site whose cheapest
plan reaching coverage ``c_j`` provably costs at least ``lb_j`` cannot reach ``c_j`` for less, so the
optimistic step curve ``(0, c_1), (lb_1, c_2), ... (lb_{K-1}, c_K)`` lies above the site's true curve.

The weighting rule lives in :func:`site_weights` and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np

from vigil.core.errors import InputError

__all__ = ["BOUND_CELLS", "CLASS_WEIGHT", "HOUSEHOLD_SIZE", "MAX_CELLS", "Allocation", "Option", "allocate", "site_weights",
           "uniform_split", "upper_bound"]

# Protection class 1 (the most critical) counts three times a class-3 site.
CLASS_WEIGHT = {1: 3.0, 2: 2.0, 3: 1.0}
HOUSEHOLD_SIZE = 2.62  # persons per household (China, 2020 census), to compare households with population
MAX_CELLS = 500_000
BOUND_CELLS = 50_000  # the bound's table may be coarse: its costs are rounded down


@dataclass(frozen=True)
class Option:
    """One choice for a site: what it costs and the coverage share it reaches (0..1)."""

    cost: float
    coverage: float


@dataclass(frozen=True)
class Allocation:
    """The chosen option per site, what it costs and gains, and the value-against-budget curve."""

    choice: np.ndarray  # option index per site
    cost: float
    value: float  # weighted coverage gained: sum of weight * (coverage after - coverage before)
    unit: float  # cost unit of the table (yuan per cell)
    exact: bool  # True: optimal over the breakpoints; False: costs were rounded up to ``unit``
    bound: float  # upper bound on the value over the breakpoints (== value when exact)
    curve_cost: np.ndarray  # budgets 0, unit, 2*unit ...
    curve_value: np.ndarray  # best value within each budget


def site_weights(protection_class: Sequence[int], people: Sequence[float | None]) -> np.ndarray:
    """The weight of each site in the city objective: class weight times relative size.

    ``CLASS_WEIGHT[protection class]`` (1: 3, 2: 2, 3: 1) times the site's people divided by the median of
    the sites that carry a head count (population, or households times :data:`HOUSEHOLD_SIZE`). A site
    without one counts as the median; when no site carries one, every size factor is 1.
    """
    if len(protection_class) != len(people):
        raise InputError(f"weights: expected {len(protection_class)} head counts, got {len(people)}")
    bad = [c for c in protection_class if c not in CLASS_WEIGHT]
    if bad:
        raise InputError(f"protection class must be 1, 2 or 3, got {bad[0]}")
    known = [float(p) for p in people if p is not None and p > 0]
    mid = float(np.median(known)) if known else 1.0
    size = np.array([float(p) / mid if p is not None and p > 0 else 1.0 for p in people])
    return np.array([CLASS_WEIGHT[c] for c in protection_class]) * size


def _check(options: Sequence[Sequence[Option]], weights: np.ndarray, budget: float) -> None:
    if len(options) != len(weights):
        raise InputError(f"allocation: expected {len(options)} weights, got {len(weights)}")
    if budget < 0 or not math.isfinite(budget):
        raise InputError(f"the city budget must be a non-negative number, got {budget}")
    for i, opts in enumerate(options):
        if not opts or opts[0].cost != 0:
            raise InputError(f"site {i}: the first option must be 'do nothing' at cost 0")
        if any(o.cost < 0 or not math.isfinite(o.cost) for o in opts):
            raise InputError(f"site {i}: option costs must be finite and not negative")
        if len(opts) > 127:
            raise InputError(f"site {i}: at most 127 options, got {len(opts)}")


def _unit(costs: list[float], limit: float, max_cells: int) -> tuple[float, bool]:
    """The table's cost unit: the gcd of whole-yuan costs when the table fits, else a coarser one."""
    whole = all(c == round(c) for c in costs)
    g = float(reduce(math.gcd, (int(round(c)) for c in costs if c > 0), 0)) if whole else 0.0
    if g > 0 and limit / g <= max_cells:
        return g, True
    return max(limit / max_cells, 1e-9), False


def _table(cells: list[np.ndarray], gains: list[np.ndarray], n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """DP over sites: best[b] = best value within b cells; choice[i, b] = option of site i there."""
    best = np.zeros(n_cells + 1)
    choice = np.zeros((len(cells), n_cells + 1), np.int8)
    for i, (c, g) in enumerate(zip(cells, gains, strict=True)):
        new = best + g[0]
        arg = np.zeros(n_cells + 1, np.int8)
        for k in range(1, len(c)):
            if c[k] > n_cells:
                continue
            cand = np.full(n_cells + 1, -np.inf)
            cand[c[k]:] = best[: n_cells + 1 - c[k]] + g[k]
            better = cand > new + 1e-12
            new = np.where(better, cand, new)
            arg[better] = k
        best, choice[i] = new, arg
    return best, choice


def _gains(options: Sequence[Sequence[Option]], weights: np.ndarray) -> list[np.ndarray]:
    return [w * (np.array([o.coverage for o in opts]) - opts[0].coverage) for opts, w in zip(options, weights,
                                                                                              strict=True)]


def allocate(options: Sequence[Sequence[Option]], weights: np.ndarray, budget: float, *,
             curve_to: float | None = None, max_cells: int | None = None) -> Allocation:
    """Choose one option per site within ``budget`` maximising weighted coverage gained (exact over options).

    ``curve_to`` extends the value-against-budget table beyond the budget (for the city curve);
    ``max_cells`` caps the table (default :data:`MAX_CELLS`), beyond which costs are rounded.
    """
    w = np.asarray(weights, float)
    _check(options, w, budget)
    limit = max(budget, curve_to or 0.0)
    unit, exact = _unit([o.cost for opts in options for o in opts], limit, max_cells or MAX_CELLS)
    n_cells = int(math.floor(limit / unit + 1e-9))
    b_cells = int(math.floor(budget / unit + 1e-9))
    gains = _gains(options, w)
    up = [np.array([math.ceil(o.cost / unit - 1e-9) for o in opts], np.int64) for opts in options]
    best, choice = _table(up, gains, n_cells)
    pick = np.zeros(len(options), np.int64)
    b = b_cells
    for i in range(len(options) - 1, -1, -1):
        pick[i] = choice[i, b]
        b -= up[i][pick[i]]
    cost = float(sum(opts[int(k)].cost for opts, k in zip(options, pick, strict=True)))
    value = float(sum(g[k] for g, k in zip(gains, pick, strict=True)))
    bound = value
    if not exact:
        down = [np.array([math.floor(o.cost / unit + 1e-9) for o in opts], np.int64) for opts in options]
        bound = float(_table(down, gains, b_cells)[0][b_cells])
    return Allocation(pick, cost, value, unit, exact, bound, np.arange(n_cells + 1) * unit, best)


def _step_points(lv: list[tuple[float, float]], b0: float, ratio: float | None, grid: int) -> list[Option]:
    """The optimistic curve of one site as options: no plan spending ``b`` does better than them."""
    cov = [c for c, _ in lv]
    lbs = list(np.maximum.accumulate([lb for _, lb in lv])) if lv else []  # least cost is monotone in coverage
    cap = cov[-1] if cov else b0
    top = lbs[-1] if lbs else 0.0
    points = sorted({0.0, *lbs, *([top * t / grid for t in range(1, grid)] if ratio is not None else [])})
    row = []
    for k, c in enumerate(points):
        m = sum(1 for lb in lbs if lb <= c)  # spending c < lb_(m+1) cannot reach cov_(m+1)
        v = cov[m] if m < len(cov) else cap
        if ratio is not None and k + 1 < len(points):  # coverage is subadditive: gain <= ratio x spend
            v = min(v, b0 + ratio * points[k + 1])
        row.append(Option(float(math.floor(c)), max(v, b0)))
    return row


def upper_bound(levels: Sequence[Sequence[tuple[float, float]]], before: Sequence[float], weights: np.ndarray,
                budget: float, *, ratios: Sequence[float | None] | None = None, grid: int = 64) -> float:
    """An upper bound on the weighted gain of any plans within ``budget``.

    ``levels[i]`` lists ``(coverage c_j, proven lower bound on the cost of reaching c_j)`` for site ``i`` in
    increasing coverage; ``before[i]`` is its coverage with the existing cameras. ``ratios[i]``, the most
    coverage one new camera adds per yuan, caps the gain of a spend ``b`` at ``ratio x b`` (a camera set sees
    no more than the sum of what its cameras see).
    """
    opts = [_step_points(sorted(lv), b0, None if ratios is None else ratios[i], grid)
            for i, (lv, b0) in enumerate(zip(levels, before, strict=True))]
    w = np.asarray(weights, float)
    down = allocate(opts, w, budget, max_cells=BOUND_CELLS)
    # the first option's own gain (what a site might reach for nothing) is part of the bound
    free = float(sum(wi * (o[0].coverage - b0) for wi, o, b0 in zip(w, opts, before, strict=True)))
    return down.bound + free


def uniform_split(options: Sequence[Sequence[Option]], weights: np.ndarray, budget: float) -> tuple[np.ndarray,
                                                                                                   float, float]:
    """The baseline: every site gets ``budget / n`` and buys its best option within it (no pooling).

    Returns (choice per site, cost, weighted gain).
    """
    w = np.asarray(weights, float)
    _check(options, w, budget)
    share = budget / max(len(options), 1)
    gains = _gains(options, w)
    pick = np.array([max((k for k, o in enumerate(opts) if o.cost <= share + 1e-9), key=lambda k: g[k])
                     for opts, g in zip(options, gains, strict=True)], np.int64)
    cost = float(sum(opts[int(k)].cost for opts, k in zip(options, pick, strict=True)))
    return pick, cost, float(sum(g[k] for g, k in zip(gains, pick, strict=True)))
