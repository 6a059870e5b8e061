"""The planner's reductions and the LP dive are exact: the reduced model's optimum is the original's.

Instances are multi-model-like (three prices, dearer columns see more), with repeated target rows (point
aggregation merges them into one weighted row) and dominated columns (a subset of a no dearer column's
targets), so the reductions really act; the unreduced MILP and brute force are the references.
"""

import itertools

import numpy as np
import pytest
from covkit import exact_cover_cost
from scipy import sparse
from scipy.optimize import linprog

from vigil.coverage.dive import lp_dive
from vigil.coverage.optimize import CoverageProblem, _reduce, solve


def _instance(seed: int, n: int = 14, m: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeated (identical candidate sets) and columns dominated by a cheaper superset."""
    rng = np.random.default_rng(seed)
    model = rng.integers(0, 3, m)
    a = rng.random((n, m)) < 0.15 * (1 + model)[None, :]
    a[rng.integers(0, n, m), np.arange(m)] = True
    a = np.vstack([a, a[rng.integers(0, n, 4)]])  # repeated points
    cost = np.array([1100.0, 1800.0, 2600.0])[model]
    sub = a[:, :3] & (rng.random((a.shape[0], 3)) < 0.6)  # dominated: part of columns 0..2, dearer
    return np.hstack([a, sub]), np.concatenate([cost, cost[:3] + 700.0])


def _brute(a: np.ndarray, cost: np.ndarray, demand: np.ndarray, fixed: np.ndarray) -> float:
    """Least cost of free columns such that every row is seen ``demand`` times (fixed columns count)."""
    free = np.flatnonzero(~fixed)
    have = a[:, fixed].sum(axis=1)
    best = np.inf
    for r in range(len(free) + 1):
        for s in itertools.combinations(free, r):
            c = cost[list(s)].sum()
            if c < best and np.all(have + a[:, list(s)].sum(axis=1) >= demand):
                best = c
    return float(best)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2])
def test_reduced_model_keeps_the_optimum(seed, k):
    a, cost = _instance(seed)
    fixed = np.zeros(a.shape[1], bool)
    fixed[seed % a.shape[1]] = True
    p = CoverageProblem.from_matrix(a, cost, fixed=fixed, k=k)
    ai = a.astype(np.int64)
    before, total = ai[:, fixed].sum(axis=1), ai.sum(axis=1)
    red, stats = _reduce(p, before, total)
    assert stats["rows"] < a.shape[0]  # points merged
    if k == 1:  # dominated columns dropped (for a single cover only)
        assert stats["cols"] < (~fixed).sum()
    demand = np.minimum(k, total)
    best = _brute(a, cost, demand, fixed)
    assert exact_cover_cost(red.b, red.cost, red.demand) == pytest.approx(best)
    free = np.flatnonzero(~fixed)
    open_rows = demand - before > 0
    unreduced = sparse.csc_matrix(a[open_rows][:, free])
    assert exact_cover_cost(unreduced, cost[free], (demand - before)[open_rows]) == pytest.approx(best)
    plan = solve(p, solver="highs", mip_gap=0.0)
    assert plan.cost == pytest.approx(best) and plan.status == "optimal"
    assert np.all(plan.count >= demand)


@pytest.mark.parametrize("seed", range(6))
def test_lp_dive_bound_is_the_lp_and_its_cover_is_feasible(seed):
    a, cost = _instance(50 + seed, n=30, m=24)
    keep = a.any(axis=1)
    b = sparse.csc_matrix(a[keep])
    demand = np.ones(b.shape[0], np.int64)
    lp = linprog(cost, A_ub=-b.toarray().astype(float), b_ub=-demand, bounds=(0, 1), method="highs").fun
    opt = exact_cover_cost(b, cost, demand)
    dive = lp_dive(b, cost, demand, seconds=10.0)
    assert dive.bound == pytest.approx(lp, rel=1e-7) and dive.bound <= opt + 1e-6
    assert dive.x is not None and np.all(np.asarray(b[:, dive.x].sum(axis=1)).ravel() >= 1)
    assert float(cost[dive.x].sum()) >= opt - 1e-6


def test_lp_dive_multicover_meets_every_demand():
    a, cost = _instance(7, n=30, m=24)
    total = a.sum(axis=1)
    b = sparse.csc_matrix(a[total > 0])
    demand = np.minimum(2, total[total > 0])
    dive = lp_dive(b, cost, demand, seconds=10.0)
    assert dive.x is not None and np.all(np.asarray(b[:, dive.x].sum(axis=1)).ravel() >= demand)
    assert dive.bound <= exact_cover_cost(b, cost, demand) + 1e-6
