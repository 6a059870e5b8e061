"""The exact model: a MILP solved by HiGHS (``highspy``) with a time limit and a reported bound."""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["MilpResult", "solve_components", "solve_milp"]


@dataclass(frozen=True)
class MilpResult:
    """Chosen columns (None if no solution), the proven bound and the status."""

    x: np.ndarray | None
    bound: float
    status: str  # optimal | time_limit | infeasible


def _model(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
           need: float | None, budget: float | None, target_mode: bool) -> highspy.HighsLp:
    """Columns x (binary per camera) then, in share/budget modes, y (covered share per row, in [0, 1])."""
    n, m = b.shape
    inf = highspy.kHighsInf
    if target_mode and need is None:  # full (multi)cover: B x >= demand
        a = b.astype(float)
        rl, ru = demand.astype(float), np.full(n, inf)
        c, lo, hi = cost, np.zeros(m), np.ones(m)
        integ = [highspy.HighsVarType.kInteger] * m
        if budget is not None:
            a = sparse.vstack([a, sparse.csr_matrix(cost[None, :])])
            rl, ru = np.append(rl, -inf), np.append(ru, budget)
    else:  # y_i - sum_j a_ij x_j <= 0
        a = sparse.hstack([-b.astype(float), sparse.identity(n, format="csc")])
        rl, ru = np.full(n, -inf), np.zeros(n)
        extra_rows, extra_l, extra_u = [], [], []
        if target_mode:  # least cost with sum w y >= need
            c = np.concatenate([cost, np.zeros(n)])
            extra_rows.append(np.concatenate([np.zeros(m), weight]))
            extra_l.append(need)
            extra_u.append(inf)
        else:  # greatest coverage, then least cost
            eps = 1e-4 * float(weight.min(initial=1.0)) / max(float(cost.sum()), 1.0)
            c = np.concatenate([cost * eps, -weight])
        if budget is not None:
            extra_rows.append(np.concatenate([cost, np.zeros(n)]))
            extra_l.append(-inf)
            extra_u.append(budget)
        if extra_rows:
            a = sparse.vstack([a, sparse.csr_matrix(np.array(extra_rows))])
            rl, ru = np.concatenate([rl, extra_l]), np.concatenate([ru, extra_u])
        lo, hi = np.zeros(m + n), np.ones(m + n)
        integ = [highspy.HighsVarType.kInteger] * m + [highspy.HighsVarType.kContinuous] * n
    a = sparse.csc_matrix(a)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.asarray(c, float), lo, hi
    lp.row_lower_, lp.row_upper_ = np.asarray(rl, float), np.asarray(ru, float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.integrality_ = integ
    return lp


DECOMPOSE_BELOW = 0.8  # split into blocks only when no block holds 80 % of the rows and columns
_banner_lock = threading.Lock()
_banner_shown = False


def _highs() -> highspy.Highs:
    """A quiet HiGHS instance (the first one of a process prints a banner on stdout; it is swallowed)."""
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            return highspy.Highs()
        _banner_shown = True
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return h


def solve_milp(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
               need: float | None, budget: float | None, target_mode: bool,
               time_limit: float, mip_gap: float) -> MilpResult:
    """Solve the covering MILP within ``time_limit`` seconds to a relative gap of ``mip_gap``."""
    n, m = b.shape
    h = _highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit, 0.1)))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("threads", 1)
    h.passModel(_model(b, cost, demand, weight, need=need, budget=budget, target_mode=target_mode))
    # No setSolution warm start: with HiGHS 1.16 it made the solver report a wrong bound and return the
    # start itself. The caller keeps the better of the heuristic and the MILP answers instead.
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    if ms == highspy.HighsModelStatus.kInfeasible:
        return MilpResult(None, math.nan, "infeasible")
    bound = float(info.mip_dual_bound)
    if not target_mode:
        bound = -bound  # an upper bound on the covered weight
    if info.primal_solution_status < 2:  # no feasible point
        return MilpResult(None, bound, "time_limit")
    x = np.asarray(h.getSolution().col_value)[:m]
    status = "optimal" if ms == highspy.HighsModelStatus.kOptimal else "time_limit"
    return MilpResult(np.flatnonzero(x > 0.5), bound, status)


def solve_components(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
                     incumbent: np.ndarray | None, time_limit: float, mip_gap: float) -> MilpResult:
    """A full (multi)cover split into independent blocks (no target shares a camera across them).

    Each block is solved on its own, smallest first, with a share of the remaining time proportional to its
    size; the bounds add up. Where a block ends without a solution, the incumbent's columns in it are used.
    """
    n, m = b.shape
    k, lab = connected_components(sparse.bmat([[None, b], [b.T, None]], format="csr"), directed=False)
    row_lab, col_lab = lab[:n], lab[n:]
    sizes = np.bincount(lab, minlength=k)
    if sizes.max(initial=0) > DECOMPOSE_BELOW * (n + m):  # one block dominates: splitting only costs time
        return solve_milp(b, cost, demand, weight, need=None, budget=None, target_mode=True,
                          time_limit=time_limit, mip_gap=mip_gap)
    order = [c for c in np.argsort(sizes, kind="stable") if np.any(row_lab == c)]
    deadline = time.perf_counter() + time_limit
    left = float(sum(sizes[c] for c in order))
    chosen, bound, status = [], 0.0, "optimal"
    inc = np.zeros(m, bool)
    if incumbent is not None:
        inc[incumbent] = True
    for c in order:
        rows, cols = np.flatnonzero(row_lab == c), np.flatnonzero(col_lab == c)
        share = max((deadline - time.perf_counter()) * sizes[c] / left, 0.2)
        left -= sizes[c]
        sub = b[rows][:, cols].tocsc()
        res = solve_milp(sub, cost[cols], demand[rows], weight[rows], need=None, budget=None, target_mode=True,
                         time_limit=share, mip_gap=mip_gap)
        if res.status == "infeasible":
            return MilpResult(None, math.nan, "infeasible")
        pick = cols[res.x] if res.x is not None else cols[inc[cols]]
        if res.x is None or (incumbent is not None and cost[cols[inc[cols]]].sum() < cost[pick].sum()):
            pick = cols[inc[cols]]
        chosen.append(pick)
        bound += res.bound if math.isfinite(res.bound) else 0.0
        if res.status != "optimal":
            status = "time_limit"
    x = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    return MilpResult(np.sort(x), bound, status)
