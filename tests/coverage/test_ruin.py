"""Ruin-and-recreate local search: every cover it returns meets each demand and never costs more than its start.

Instances are multi-model-like (three prices, dearer columns see more). The search runs on a time limit, so
the tests hold only what any number of moves must keep: feasibility, no dearer answer, no cheaper one than
the exact optimum.
"""

import numpy as np
import pytest
from covkit import exact_cover_cost
from scipy import sparse

from vigil.coverage.bounds import lagrangian
from vigil.coverage.heuristics import greedy, prune, ruin_and_recreate
from vigil.coverage.optimize import CoverageProblem, solve


def _cover(seed: int, n: int = 60, m: int = 45) -> tuple[sparse.csc_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = rng.integers(0, 3, m)
    a = rng.random((n, m)) < 0.06 * (1 + model)[None, :]
    a[np.arange(n), rng.integers(0, m, n)] = True  # every row seen at least once
    a[np.arange(n), rng.integers(0, m, n)] = True  # and mostly twice (for k = 2)
    return sparse.csc_matrix(a), np.array([1100.0, 1800.0, 2600.0])[model]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("prices", ["lagrange", "none"])
def test_ruin_and_recreate_keeps_the_cover_and_never_costs_more(seed, k, prices):
    b, cost = _cover(seed)
    demand = np.minimum(k, np.asarray(b.sum(axis=1)).ravel()).astype(np.int64)
    start = prune(b, cost, demand, np.ones(b.shape[0]), greedy(b, cost, demand, np.ones(b.shape[0])))
    u = lagrangian(b, cost, demand, upper=float(cost[start].sum()), seconds=0.5).u if prices == "lagrange" else None
    x = ruin_and_recreate(b, cost, demand, start, u=u, seconds=0.3, seed=seed)
    assert len(np.unique(x)) == len(x) and np.all((x >= 0) & (x < b.shape[1]))
    assert np.all(np.asarray(b[:, x].sum(axis=1)).ravel() >= demand)
    assert cost[x].sum() <= cost[start].sum() + 1e-9
    assert cost[x].sum() >= exact_cover_cost(b, cost, demand) - 1e-6


def test_ruin_and_recreate_leaves_an_empty_cover_alone():
    b, cost = _cover(0)
    x = ruin_and_recreate(b, cost, np.zeros(b.shape[0], np.int64), np.zeros(0, np.int64), seconds=0.1)
    assert len(x) == 0


@pytest.mark.parametrize("ruin", [True, False])
def test_solve_with_and_without_ruin_reaches_the_optimum(ruin):
    b, cost = _cover(11)
    plan = solve(CoverageProblem.from_matrix(b, cost), solver="highs", mip_gap=0.0, ruin=ruin, time_limit=30)
    assert plan.status == "optimal"
    assert plan.cost == pytest.approx(exact_cover_cost(b, cost, np.ones(b.shape[0], np.int64)))
