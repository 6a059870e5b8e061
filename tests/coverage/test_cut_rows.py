"""Cuts passed to the exact solvers as rows: every cut holds at every cover, and the rows reach the solver.

Validity is checked by enumeration: on small instances every feasible integer point (not only an optimum)
satisfies every cut the separation returns at the LP point (scipy's ``linprog``).
"""

import itertools

import numpy as np
import pytest
from covkit import open_ground
from scipy import sparse
from scipy.optimize import linprog

from vigil.coverage.cpsat import solve_cpsat
from vigil.coverage.cuts import CutRows, cut_bound, triple_cuts
from vigil.coverage.milp import solve_components, solve_milp


def _covers(b: sparse.csc_matrix) -> np.ndarray:
    """Every 0/1 point that covers each row once at least (rows of the answer)."""
    pts = np.array(list(itertools.product((0.0, 1.0), repeat=b.shape[1])))
    return pts[np.all(b.toarray() @ pts.T >= 1, axis=0)]


@pytest.mark.parametrize("seed", range(8))
def test_no_cover_violates_a_separated_cut(seed):
    b, cost = open_ground(seed, n=8, m=12)
    lp = linprog(cost, A_ub=-b.toarray().astype(float), b_ub=-np.ones(8), bounds=(0, 1), method="highs")
    cuts = triple_cuts(b, lp.x)
    covers = _covers(b)
    assert len(covers) > 0
    assert np.all(cuts @ covers.T >= 2 - 1e-9)
    res = cut_bound(b, cost, np.ones(8, np.int64), seconds=10)  # every round's cuts, too
    assert np.all(res.cuts @ covers.T >= 2 - 1e-9)
    assert res.bound <= float((covers @ cost).min()) + 1e-6


def _two_cameras() -> tuple[sparse.csc_matrix, np.ndarray]:
    """Two rows seen by camera 0 (cheap) and camera 1 (dear): the optimum is camera 0 alone."""
    return sparse.csc_matrix(np.array([[1, 1], [1, 1]], bool)), np.array([1.0, 5.0])


@pytest.mark.parametrize("block_solver", [solve_milp, solve_cpsat], ids=["highs", "cpsat"])
def test_rows_passed_reach_the_solver(block_solver):
    b, cost = _two_cameras()
    kw = {"need": None, "budget": None, "target_mode": True, "time_limit": 10, "mip_gap": 0.0}
    plain = block_solver(b, cost, np.ones(2, np.int64), np.ones(2), **kw)
    assert plain.x.tolist() == [0]
    # not a valid cut: a row that forbids the optimum shows that the solver obeys the rows it is given
    forced = CutRows(sparse.csr_matrix(np.array([[0.0, 1.0]])), np.array([1.0]))
    res = block_solver(b, cost, np.ones(2, np.int64), np.ones(2), **kw, cuts=forced, incumbent=np.array([1]))
    assert res.status == "optimal" and 1 in res.x.tolist() and res.bound == pytest.approx(5.0)


def test_rows_are_ignored_outside_a_full_cover():
    b, cost = _two_cameras()
    forced = CutRows(sparse.csr_matrix(np.array([[0.0, 1.0]])), np.array([1.0]))
    res = solve_milp(b, cost, np.ones(2, np.int64), np.ones(2), need=2.0, budget=None, target_mode=True,
                     time_limit=10, mip_gap=0.0, cuts=forced)
    assert res.x.tolist() == [0]


def test_cut_rows_refuse_a_wrong_length():
    with pytest.raises(ValueError, match="expected 1 lower bounds, got 2"):
        CutRows(sparse.csr_matrix(np.ones((1, 2))), np.ones(2))


@pytest.mark.parametrize("engine", [solve_milp, solve_cpsat], ids=["highs", "cpsat"])
def test_a_block_hands_its_cuts_to_the_solver(engine):
    b, cost = open_ground(3, n=120, m=200)
    demand = np.ones(b.shape[0], np.int64)
    seen: list[CutRows | None] = []

    def spy(*args, cuts=None, **kw):
        seen.append(cuts)
        return engine(*args, cuts=cuts, **kw)

    res = solve_components(b, cost, demand, np.ones(b.shape[0]), incumbent=None, time_limit=5, mip_gap=0.0,
                           block_solver=spy, ruin=False)
    opt = solve_milp(b, cost, demand, np.ones(b.shape[0]), need=None, budget=None, target_mode=True,
                     time_limit=30, mip_gap=0.0)
    handed = [c for c in seen if c is not None]
    assert handed and all(c.a.shape[1] == b.shape[1] and c.a.shape[0] > 0 for c in handed)
    x = np.zeros(b.shape[1])
    x[opt.x] = 1
    assert all(np.all(c.a @ x >= c.lower - 1e-9) for c in handed)  # the optimum is not cut off
    best = float(cost[opt.x].sum())
    assert res.bound <= best + 1e-6 <= float(cost[res.x].sum()) + 2e-6  # a valid bound and a real cover
    assert np.all(b[:, res.x].sum(axis=1) >= 1)


@pytest.mark.parametrize("seed", range(4))
def test_the_binding_cuts_alone_keep_the_cut_bound(seed):
    b, cost = open_ground(seed, n=60, m=110)
    res = cut_bound(b, cost, np.ones(60, np.int64), seconds=10)
    rows = res.rows()
    assert rows.a.shape[0] <= res.cuts.shape[0]
    a_ub = -sparse.vstack([b.astype(float), rows.a]).toarray()
    lp = linprog(cost, A_ub=a_ub, b_ub=-np.concatenate([np.ones(60), rows.lower]), bounds=(0, 1), method="highs")
    assert lp.fun == pytest.approx(res.bound, rel=1e-7)  # the slack cuts dropped, the LP optimum stays
