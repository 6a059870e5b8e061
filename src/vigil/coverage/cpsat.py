"""The same covering model solved by OR-Tools CP-SAT (``solver="cpsat"``), beside HiGHS.

CP-SAT needs integer coefficients: costs (and row weights in share mode) are scaled to integers
(:data:`SCALE` steps per unit when they are not integers already), so its bound is exact for costs given to
the cent. It runs ``workers`` search workers (default: the CPU count, at most 8); with fewer than 4 it has
no LP-based bound, which is why ``auto`` stays on HiGHS.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from vigil.coverage.cuts import CutRows
from vigil.coverage.milp import MilpResult

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

__all__ = ["SCALE", "solve_cpsat"]

SCALE = 100  # integer steps per cost unit when costs are fractional


def _integers(v: np.ndarray) -> tuple[np.ndarray, float]:
    """``v`` as int64 and the factor it was multiplied by (1 when already integral)."""
    f = 1.0 if np.all(v == np.round(v)) else float(SCALE)
    return np.round(v * f).astype(np.int64), f


def _rows(b: sparse.csc_matrix) -> list[np.ndarray]:
    br = b.tocsr()
    return [br.indices[br.indptr[i]:br.indptr[i + 1]] for i in range(br.shape[0])]


def _add_cuts(md: cp_model.CpModel, x: list, cuts: CutRows) -> None:
    """Each cut ``a_r @ x >= lower_r`` as a linear constraint (integer coefficients, the bound rounded up)."""
    from ortools.sat.python import cp_model  # heavy: loaded only when CP-SAT is asked for

    a = sparse.csr_matrix(cuts.a)
    for r in range(a.shape[0]):
        cols = a.indices[a.indptr[r]:a.indptr[r + 1]]
        coef = [int(v) for v in np.round(a.data[a.indptr[r]:a.indptr[r + 1]])]
        md.add(cp_model.LinearExpr.weighted_sum([x[j] for j in cols], coef) >= int(math.ceil(cuts.lower[r] - 1e-9)))


def solve_cpsat(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
                need: float | None, budget: float | None, target_mode: bool, time_limit: float, mip_gap: float,
                incumbent: np.ndarray | None = None, workers: int | None = None,
                cuts: CutRows | None = None) -> MilpResult:
    """Solve the covering model of :func:`vigil.coverage.milp.solve_milp` with CP-SAT; same answer shape.

    ``cuts`` (valid inequalities of a full cover) become linear constraints, so that its LP starts from them.
    """
    from ortools.sat.python import cp_model  # heavy: loaded only when CP-SAT is asked for

    n, m = b.shape
    md = cp_model.CpModel()
    x = [md.new_bool_var(f"x{j}") for j in range(m)]
    c, cf = _integers(np.asarray(cost, float))
    rows = _rows(b)
    spend = cp_model.LinearExpr.weighted_sum(x, [int(v) for v in c])
    if budget is not None:
        md.add(spend <= int(math.floor(budget * cf + 1e-6)))
    if target_mode and need is None:
        for i, r in enumerate(rows):
            if demand[i] <= 1:
                md.add_bool_or([x[j] for j in r])
            else:
                md.add(cp_model.LinearExpr.sum([x[j] for j in r]) >= int(demand[i]))
        if cuts is not None:
            _add_cuts(md, x, cuts)
        md.minimize(spend)
    else:
        y = [md.new_bool_var(f"y{i}") for i in range(n)]
        for i, r in enumerate(rows):  # y_i only if some chosen column sees row i
            md.add_bool_or([x[j] for j in r] + [y[i].negated()])
        w, wf = _integers(np.asarray(weight, float))
        covered = cp_model.LinearExpr.weighted_sum(y, [int(v) for v in w])
        if target_mode:
            md.add(covered >= int(math.ceil((need or 0.0) * wf - 1e-6)))
            md.minimize(spend)
        else:  # greatest coverage first, then least cost
            md.maximize(covered * (int(c.sum()) + 1) - spend)
    if incumbent is not None:
        chosen = np.zeros(m, bool)
        chosen[incumbent] = True
        for j in range(m):
            md.add_hint(x[j], bool(chosen[j]))
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = float(max(time_limit, 0.1))
    s.parameters.num_workers = int(workers or min(os.cpu_count() or 1, 8))
    s.parameters.relative_gap_limit = float(mip_gap)
    st = s.solve(md)
    if st == cp_model.INFEASIBLE:
        return MilpResult(None, math.nan, "infeasible")
    bound = float(s.best_objective_bound)
    if target_mode:
        bound /= cf
    else:  # covered * (S + 1) - spend <= bound with spend <= S
        big = int(c.sum()) + 1
        bound = math.floor((bound + big - 1) / big) / wf
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return MilpResult(None, bound, "time_limit")
    xv = np.array([s.boolean_value(v) for v in x], bool)
    return MilpResult(np.flatnonzero(xv), bound, "optimal" if st == cp_model.OPTIMAL else "time_limit")
