"""The large-neighbourhood search: every cover it returns meets each demand and never costs more than its start.

Instances are small spatial covers (targets on a grid, cameras of three prices seeing the targets within their
range, dearer ones farther), so that a window of chosen columns grown through shared rows is a compact patch.
The sub-problems are solved by both block solvers; a solver that answers with a point that is not a cover of
its window is never taken.
"""

import functools

import numpy as np
import pytest
from covkit import exact_cover_cost
from scipy import sparse

from vigil.coverage import milp
from vigil.coverage.cpsat import solve_cpsat
from vigil.coverage.heuristics import greedy, prune
from vigil.coverage.lns import lns
from vigil.coverage.milp import MilpResult, solve_milp
from vigil.coverage.optimize import CoverageProblem, solve

SOLVERS = {"highs": solve_milp, "cpsat": functools.partial(solve_cpsat, workers=2)}


def _grid(seed: int, side: int = 9, m: int = 90) -> tuple[sparse.csc_matrix, np.ndarray]:
    """``side`` x ``side`` targets 1 apart; ``m`` cameras at random points, ranges 1.2 / 1.7 / 2.3 by price."""
    rng = np.random.default_rng(seed)
    pts = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2).astype(float)
    model = rng.integers(0, 3, m)
    cam = rng.uniform(0, side - 1, (m, 2))
    reach = np.array([1.2, 1.7, 2.3])[model]
    a = np.linalg.norm(pts[:, None, :] - cam[None, :, :], axis=2) <= reach[None, :]
    a[np.arange(len(pts)), rng.integers(0, m, len(pts))] = True  # every target seen at least once
    a[np.arange(len(pts)), rng.integers(0, m, len(pts))] = True  # and mostly twice (for k = 2)
    return sparse.csc_matrix(a), np.array([1100.0, 1800.0, 2600.0])[model]


def _start(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray) -> np.ndarray:
    ones = np.ones(b.shape[0])
    return prune(b, cost, demand, ones, greedy(b, cost, demand, ones))


def _covers(b: sparse.csc_matrix, x: np.ndarray, demand: np.ndarray) -> bool:
    return bool(np.all(np.asarray(b[:, x].sum(axis=1)).ravel() >= demand))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_lns_keeps_the_cover_and_never_costs_more(seed, k, solver):
    b, cost = _grid(seed)
    demand = np.minimum(k, np.asarray(b.sum(axis=1)).ravel()).astype(np.int64)
    start = _start(b, cost, demand)
    x, stats = lns(b, cost, demand, start, solver=SOLVERS[solver], seconds=1.5, rows=15, max_rows=30, seed=seed)
    assert len(np.unique(x)) == len(x) and np.all((x >= 0) & (x < b.shape[1]))
    assert _covers(b, x, demand)
    assert cost[x].sum() <= cost[start].sum() + 1e-9
    assert cost[x].sum() >= exact_cover_cost(b, cost, demand) - 1e-6
    assert stats.moves >= 1 and 0 <= stats.gains <= stats.moves


@pytest.mark.parametrize("seed", [6, 9])
def test_lns_with_windows_of_half_the_rows_finds_the_optimum_greedy_misses(seed):
    """HiGHS proves each window in milliseconds, so the search ends when it stalls, far within its limit."""
    b, cost = _grid(seed)
    demand = np.ones(b.shape[0], np.int64)
    start = _start(b, cost, demand)
    best = exact_cover_cost(b, cost, demand)
    assert cost[start].sum() > best + 1  # greedy + pruning is not optimal here
    half = b.shape[0] // 2
    x, stats = lns(b, cost, demand, start, solver=solve_milp, seconds=60, rows=10, max_rows=half)
    assert _covers(b, x, demand)
    assert cost[x].sum() == pytest.approx(best)
    assert stats.gains >= 1 and stats.rows <= half


def test_lns_never_takes_an_answer_that_is_not_a_cover_of_its_window():
    b, cost = _grid(1)
    demand = np.ones(b.shape[0], np.int64)
    start = _start(b, cost, demand)
    calls = []

    def liar(sub, c, demand, weight, **kw):  # the cheapest point of all, "proven": nothing chosen
        calls.append(sub.shape)
        return MilpResult(np.zeros(0, np.int64), 0.0, "optimal")

    x, stats = lns(b, cost, demand, start, solver=liar, seconds=0.5, rows=10)
    assert calls and stats.gains == 0
    assert np.array_equal(np.sort(x), np.sort(start))


def test_lns_with_no_time_returns_its_start_without_calling_a_solver():
    b, cost = _grid(2)
    demand = np.ones(b.shape[0], np.int64)
    start = _start(b, cost, demand)

    def unused(*args, **kw):
        raise AssertionError("called with no time left")

    x, stats = lns(b, cost, demand, start, solver=unused, seconds=0.0)
    assert np.array_equal(np.sort(x), np.sort(start)) and stats.moves == 0


@pytest.mark.parametrize("solver", ["highs", "cpsat"])
def test_solve_with_lns_on_a_block_reaches_a_valid_plan(monkeypatch, solver):
    """A block counted as large: ``solve`` runs the search in it, and its plan and bound stay valid."""
    b, cost = _grid(4)
    seen = []
    real = milp.window_search

    def spy(*args, **kw):
        seen.append(kw["solver"])
        return real(*args, **kw)

    monkeypatch.setattr(milp, "LNS_MIN_ROWS", 10)
    monkeypatch.setattr(milp, "window_search", spy)
    best = exact_cover_cost(b, cost, np.ones(b.shape[0], np.int64))
    plan = solve(CoverageProblem.from_matrix(b, cost), solver=solver, time_limit=10)
    assert seen  # the search ran, with the block's own solver
    assert np.all(plan.count >= 1)
    assert plan.lower_bound <= best + 1e-6 <= plan.cost + 1e-6
