"""The optimiser against brute force on tiny instances, fixed cameras, blind spots, infeasibility."""

import itertools

import numpy as np
import pytest
from scipy import sparse

from vigil.core.errors import InputError
from vigil.coverage.optimize import CoverageProblem, InfeasiblePlanError, solve


def _instance(seed: int, n: int = 9, m: int = 9, p: float = 0.3):
    rng = np.random.default_rng(seed)
    a = rng.random((n, m)) < p
    cost = rng.integers(1, 5, m).astype(float)
    return a, cost


def _brute(a, cost, ok):
    """Least cost over all subsets for which ``ok(count)`` holds (None if none does)."""
    m = a.shape[1]
    best = None
    for r in range(m + 1):
        for sub in itertools.combinations(range(m), r):
            x = np.zeros(m)
            x[list(sub)] = 1
            c = cost[list(sub)].sum()
            if (best is None or c < best) and ok(a.astype(int) @ x):
                best = c
    return best


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("solver", ["highs", "greedy"])
def test_full_cover_matches_brute_force(seed, solver):
    a, cost = _instance(seed)
    coverable = a.any(axis=1)
    best = _brute(a, cost, lambda cnt: bool(np.all(cnt[coverable] >= 1)))
    plan = solve(CoverageProblem.from_matrix(sparse.csc_matrix(a), cost), solver=solver)
    assert np.all(plan.count[coverable] >= 1)
    assert plan.blind_spots.tolist() == np.flatnonzero(~coverable).tolist()
    if solver == "highs":
        assert plan.cost == pytest.approx(best)
        assert plan.status == "optimal" and plan.gap == pytest.approx(0, abs=1e-6)
        assert plan.lower_bound <= plan.cost + 1e-6
    else:
        assert plan.cost >= best - 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_share_budget_and_k_cover_match_brute_force(seed):
    a, cost = _instance(100 + seed, p=0.45)
    ai = a.astype(int)
    total = ai.sum(axis=1)
    coverable = total > 0
    # least cost to 60 % of the coverable targets
    need = 0.6 * coverable.sum()
    best = _brute(a, cost, lambda cnt: (cnt[coverable] >= 1).sum() >= need - 1e-9)
    plan = solve(CoverageProblem.from_matrix(a, cost, target=0.6), solver="highs")
    assert plan.cost == pytest.approx(best)
    # greatest coverage under a budget of 4
    best_cov = max((ai[:, list(s)].sum(axis=1) > 0).sum() for r in range(10) for s in itertools.combinations(range(9), r)
                   if cost[list(s)].sum() <= 4)
    plan = solve(CoverageProblem.from_matrix(a, cost, target=None, budget=4), solver="highs")
    assert plan.cost <= 4 and (plan.count > 0).sum() == best_cov
    # 2-coverage: each target seen by min(2, available) cameras
    demand = np.minimum(2, total)
    best = _brute(a, cost, lambda cnt: bool(np.all(cnt >= demand)))
    plan = solve(CoverageProblem.from_matrix(a, cost, k=2), solver="highs")
    assert plan.cost == pytest.approx(best) and np.all(plan.count >= demand)


def test_fixed_cameras_are_respected_and_free():
    a = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1], [0, 0, 0, 0]], bool)
    cost = np.array([5.0, 1.0, 1.0, 1.0])
    fixed = np.array([True, False, False, False])
    plan = solve(CoverageProblem.from_matrix(a, cost, fixed=fixed), solver="highs")
    # column 0 is existing: targets 0 and 1 are already covered, only target 2 needs a camera
    assert plan.chosen.tolist() in ([2], [3]) and plan.cost == 1.0
    assert plan.count_before.tolist() == [1, 1, 0, 0]
    assert 0 not in plan.chosen.tolist()
    assert plan.blind_spots.tolist() == [3]  # reported, never dropped


def test_blind_spots_reported_when_nothing_sees_them():
    a = sparse.csc_matrix(np.array([[1, 0], [0, 0], [0, 1], [0, 0]], bool))
    plan = solve(CoverageProblem.from_matrix(a, [1.0, 1.0]))
    assert plan.blind_spots.tolist() == [1, 3]
    assert (plan.count > 0).sum() == 2


def test_infeasible_target_within_budget():
    a = np.eye(4, dtype=bool)
    with pytest.raises(InfeasiblePlanError, match="budget"):
        solve(CoverageProblem.from_matrix(a, np.ones(4), target=1.0, budget=2), solver="highs")


@pytest.mark.parametrize(("kw", "msg"), [
    ({"cost": np.ones(3)}, "expected shape"), ({"k": 0}, "k must"), ({"target": 1.5}, "target share"),
    ({"target": None}, "target share or a budget"), ({"budget": -1}, "budget"),
])
def test_problem_validation(kw, msg):
    args = {"cost": np.ones(2), **kw}
    with pytest.raises(InputError, match=msg):
        CoverageProblem.from_matrix(np.ones((2, 2), bool), **args)


@pytest.mark.parametrize("seed", range(4))
def test_independent_blocks_solved_apart_add_up(seed):
    a1, c1 = _instance(200 + seed, n=6, m=6, p=0.4)
    a2, c2 = _instance(300 + seed, n=6, m=6, p=0.4)
    a = sparse.block_diag([sparse.csc_matrix(a1), sparse.csc_matrix(a2)]).tocsc()
    cost = np.concatenate([c1, c2])
    best = sum(_brute(x, c, lambda cnt, x=x: bool(np.all(cnt[x.any(axis=1)] >= 1))) for x, c in ((a1, c1), (a2, c2)))
    plan = solve(CoverageProblem.from_matrix(a, cost), solver="highs")
    assert plan.cost == pytest.approx(best) and plan.lower_bound == pytest.approx(best)
    assert plan.status == "optimal"
