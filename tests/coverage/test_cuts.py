"""The {0, 1/2}-cuts on row triples are valid (never above the optimum) and close the LP's odd cycles.

References: scipy's ``linprog`` for the LP and the proven MILP (``covkit.exact_cover_cost``) for the optimum.
"""

import numpy as np
import pytest
from covkit import exact_cover_cost, open_ground
from scipy import sparse
from scipy.optimize import linprog

from vigil.coverage.cuts import cut_bound, triple_cuts
from vigil.coverage.optimize import CoverageProblem, solve


def _odd_cycle() -> sparse.csc_matrix:
    """Three targets, three cameras, each camera sees two of them: LP 1.5 (every camera at 1/2), optimum 2."""
    return sparse.csc_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], bool))


def test_the_cut_closes_an_odd_cycle():
    b = _odd_cycle()
    cuts = triple_cuts(b, np.full(3, 0.5))
    assert cuts.toarray().tolist() == [[1.0, 1.0, 1.0]]  # x0 + x1 + x2 >= 2
    res = cut_bound(b, np.ones(3), np.ones(3, np.int64), seconds=10)
    assert res.lp == pytest.approx(1.5) and res.bound == pytest.approx(2.0) and res.rounds == 1


def test_a_column_seeing_all_three_counts_twice():
    b = sparse.csc_matrix(np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 1]], bool))
    cuts = triple_cuts(b, np.array([0.5, 0.5, 0.5, 0.0]))
    assert cuts.toarray().tolist() == [[1.0, 1.0, 1.0, 2.0]]
    assert triple_cuts(b, np.array([0.0, 0.0, 0.0, 1.0])).shape[0] == 0  # an integral point violates nothing


@pytest.mark.parametrize("seed", range(6))
def test_the_cut_bound_lies_between_the_lp_and_the_optimum(seed):
    b, cost = open_ground(seed)
    demand = np.ones(b.shape[0], np.int64)
    lp = linprog(cost, A_ub=-b.toarray().astype(float), b_ub=-demand, bounds=(0, 1), method="highs").fun
    opt = exact_cover_cost(b, cost, demand)
    res = cut_bound(b, cost, demand, seconds=10)
    assert res.lp == pytest.approx(lp, rel=1e-7)
    assert lp - 1e-6 <= res.bound <= opt + 1e-6
    x = np.zeros(b.shape[1])
    x[solve(CoverageProblem.from_matrix(b, cost), solver="highs", mip_gap=0.0, cuts=False).chosen] = 1
    assert np.all(res.cuts @ x >= 2 - 1e-9)  # every cut holds at an optimal cover


def test_solve_with_cuts_still_reaches_the_optimum():
    b, cost = open_ground(7, n=60, m=110)
    opt = exact_cover_cost(b, cost, np.ones(b.shape[0], np.int64))
    for cuts in (False, True):
        plan = solve(CoverageProblem.from_matrix(b, cost), solver="highs", mip_gap=0.0, time_limit=30, cuts=cuts)
        assert plan.cost == pytest.approx(opt) and plan.lower_bound <= opt + 1e-6


def test_cuts_raise_the_bound_where_the_lp_is_fractional():
    raised = []
    for seed in range(6):
        b, cost = open_ground(seed)
        res = cut_bound(b, cost, np.ones(b.shape[0], np.int64), seconds=10)
        raised.append(res.bound > res.lp + 1e-6)
    assert any(raised)
