"""The exact model: a MILP solved by HiGHS (``highspy``) with a time limit and a reported bound."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from vigil.coverage.bounds import Lagrange, lagrangian
from vigil.coverage.cuts import CutRows, cut_bound
from vigil.coverage.dive import Dive, lp_dive
from vigil.coverage.heuristics import greedy, lagrangian_greedy, local_search, prune, ruin_and_recreate
from vigil.coverage.highs import quiet_highs
from vigil.coverage.lns import lns as window_search

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


PRESOLVE_WITH_START = "off"
HEURISTIC_EFFORT = 0.05  # HiGHS's default share of work on primal heuristics (sub-MIPs find most of the gain)
LAGRANGE_SHARE, LAGRANGE_MAX_S = 0.1, 3.0  # the Lagrangian ascent's share of a block's time, and its cap
DIVE_SHARE = 0.35  # the LP bound and LP dive's share of a block's time (docs/coverage.md)
SMALL_BLOCK = 50  # rows: a block this small goes to the exact solver first (a town has hundreds of them)
BLOCK_FLOOR_S = 0.2  # the least time a block gets while the limit allows it
SOLVER_MIN_S = 0.5  # a block's exact solver is not started with less left (it needs that to set up)
MIN_BLOCK_S = 0.05  # a block offered less time than this keeps its start (the limit is spent)
CUT_SHARE = 0.2  # the {0, 1/2}-cut rounds' share of a block's time (vigil.coverage.cuts)
RUIN_SHARE = 0.5  # the most of a block's time the ruin-and-recreate search takes (it stops when it stalls)
LNS_SHARE = 0.3  # the most of a block's time the large-neighbourhood search takes (vigil.coverage.lns)
LNS_MIN_ROWS = 500  # rows: smaller blocks leave their time to the exact solver on the whole block


def solve_milp(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
               need: float | None, budget: float | None, target_mode: bool,
               time_limit: float, mip_gap: float, incumbent: np.ndarray | None = None,
               cuts: CutRows | None = None) -> MilpResult:
    """Solve the covering MILP within ``time_limit`` seconds to a relative gap of ``mip_gap``.

    ``incumbent`` (feasible column indices) is passed to HiGHS as its starting solution. ``cuts`` (valid
    inequalities of a full cover, such as the block's {0, 1/2}-cuts) become rows of the model before it runs, so
    that its branch and bound starts from the cut LP; they are ignored in the share and budget modes.
    """
    n, m = b.shape
    h = quiet_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit, 0.1)))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_heuristic_effort", HEURISTIC_EFFORT)
    h.passModel(_model(b, cost, demand, weight, need=need, budget=budget, target_mode=target_mode))
    if cuts is not None and cuts.a.shape[0] and target_mode and need is None:
        a = sparse.csr_matrix(cuts.a, dtype=float)
        h.addRows(a.shape[0], np.asarray(cuts.lower, float), np.full(a.shape[0], highspy.kHighsInf), a.nnz,
                  a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32), a.data)
    if incumbent is not None and target_mode and need is None:
        x0 = np.zeros(h.getNumCol())
        x0[incumbent] = 1.0
        start = highspy.HighsSolution()
        start.col_value = list(x0)
        start.value_valid = True
        h.setSolution(start)
        # HiGHS 1.16 with presolve and a start can report a bound and objective that no returned point has
        # (a block of Shanghai: objective 132 while its solution costs 134, the true optimum)
        h.setOptionValue("presolve", PRESOLVE_WITH_START)
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
    x = np.flatnonzero(np.asarray(h.getSolution().col_value)[:m] > 0.5)
    status = "optimal" if ms == highspy.HighsModelStatus.kOptimal else "time_limit"
    if target_mode and need is None and budget is None:
        paid = float(cost[x].sum())
        if abs(float(info.objective_function_value) - paid) > 1e-6 * max(paid, 1.0):
            return MilpResult(x, math.nan, "time_limit")  # the point is not the one the bound speaks of
        bound = min(bound, paid) if math.isfinite(bound) else bound
    return MilpResult(x, bound, status)


BlockSolver = Callable[..., MilpResult]


def _block(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray,
           inc: np.ndarray | None, seconds: float, mip_gap: float, block_solver: BlockSolver,
           dive: bool = True, ruin: bool = True, cuts: bool = True, lns: bool = True) -> MilpResult:
    """One block: Lagrangian and LP bounds and primal heuristics first, then the exact solver from the best start.

    A block of at most :data:`SMALL_BLOCK` rows first gets half its time in the exact solver alone. With
    ``ruin`` the best start is improved by :func:`~vigil.coverage.heuristics.ruin_and_recreate` on the
    Lagrangian prices for :data:`RUIN_SHARE` of the block's time before the solver gets it; with ``lns`` a
    block of at least :data:`LNS_MIN_ROWS` rows then re-solves windows of it with ``block_solver``
    (:func:`vigil.coverage.lns.lns`) for :data:`LNS_SHARE` of its time at most, leaving the cut rounds theirs.

    The answer is the cheaper of the solver's and the start; the bound the largest of the solver's, Lagrange's
    (:mod:`vigil.coverage.bounds`) and the LP's (:mod:`vigil.coverage.dive`).
    """
    if b.shape[0] == 1:  # one row: its ``demand`` cheapest columns
        cheapest = np.sort(np.argsort(cost, kind="stable")[:int(demand[0])])
        if len(cheapest) < demand[0]:
            return MilpResult(None, math.nan, "infeasible")
        return MilpResult(cheapest, float(cost[cheapest].sum()), "optimal")
    t_end = time.perf_counter() + seconds
    if b.shape[0] <= SMALL_BLOCK:  # usually proven at once; the bounds and heuristics below would cost more
        res = block_solver(b, cost, demand, weight, need=None, budget=None, target_mode=True,
                           time_limit=seconds / 2, mip_gap=mip_gap, incumbent=inc)
        if res.status != "time_limit":
            return res
        if res.x is not None and (inc is None or cost[res.x].sum() < cost[inc].sum()):
            inc = res.x
        seconds = max(t_end - time.perf_counter(), 0.1)
    upper = float(cost[inc].sum()) if inc is not None else float(cost.sum())
    lag = lagrangian(b, cost, demand, upper=upper, seconds=min(LAGRANGE_SHARE * seconds, LAGRANGE_MAX_S),
                     snapshots=2)
    dv = lp_dive(b, cost, demand, seconds=DIVE_SHARE * seconds,
                 local_search_s=min(LAGRANGE_SHARE * seconds, LAGRANGE_MAX_S)) if dive else Dive(math.nan, None)
    low = max(lag.bound, dv.bound) if math.isfinite(dv.bound) else lag.bound
    inc = _better_start(b, cost, demand, weight, inc, lag, min(LAGRANGE_SHARE * seconds, LAGRANGE_MAX_S), dv.x,
                        until=t_end)
    ruin_s = min(RUIN_SHARE * seconds, t_end - time.perf_counter())
    if ruin and inc is not None and ruin_s > 0 and not _closed(cost, inc, low, mip_gap):
        inc = ruin_and_recreate(b, cost, demand, inc, u=lag.u, seconds=ruin_s)
    cut_s = CUT_SHARE * seconds if cuts and dv.lp is not None else 0.0
    lns_s = min(LNS_SHARE * seconds, t_end - time.perf_counter() - cut_s - SOLVER_MIN_S)
    if (lns and inc is not None and b.shape[0] >= LNS_MIN_ROWS and lns_s > SOLVER_MIN_S
            and not _closed(cost, inc, low, mip_gap)):
        inc, _ = window_search(b, cost, demand, inc, solver=block_solver, seconds=lns_s, mip_gap=mip_gap)
    # the cut rounds after the search: it stops when it stalls (seconds on a community), while on a large block
    # whose plan is far above its bound (Kunming's 7,000-row blocks) it is the better use of the time
    rows: CutRows | None = None
    if cut_s > 0:
        cb = cut_bound(b, cost, demand, seconds=min(cut_s, max(t_end - time.perf_counter(), 0.0)),
                       solved=dv.lp)
        low = max(low, cb.bound) if math.isfinite(cb.bound) else low
        rows = cb.rows() if cb.cuts.shape[0] else None
    if inc is not None and _closed(cost, inc, low, mip_gap):
        return MilpResult(inc, low, "optimal")
    if inc is not None and t_end - time.perf_counter() < SOLVER_MIN_S:  # too little left to start a solver
        return MilpResult(inc, min(low, float(cost[inc].sum())), "time_limit")
    res = block_solver(b, cost, demand, weight, need=None, budget=None, target_mode=True,
                       time_limit=max(t_end - time.perf_counter(), 0.1), mip_gap=mip_gap, incumbent=inc, cuts=rows)
    if res.status == "infeasible":
        return res
    x = res.x
    if x is None or (inc is not None and cost[inc].sum() < cost[x].sum() - 1e-9):
        x = inc
    if x is None:
        return MilpResult(None, math.nan, "time_limit")
    bound = min(max(res.bound if math.isfinite(res.bound) else 0.0, low), float(cost[x].sum()))
    closed = res.status == "optimal" or float(cost[x].sum()) - bound <= 1e-9 * max(upper, 1.0)
    return MilpResult(x, bound, "optimal" if closed else "time_limit")


def _expired(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray,
             inc: np.ndarray | None) -> MilpResult:
    """A block reached when the time is spent: its start (greedy if none) and one Lagrangian step's bound."""
    if inc is None:
        inc = prune(b, cost, demand, weight, greedy(b, cost, demand, weight))
    paid = float(cost[inc].sum())
    low = min(lagrangian(b, cost, demand, upper=paid, seconds=0.0, max_iter=1, snapshots=1).bound, paid)
    return MilpResult(inc, low, "optimal" if paid - low <= 1e-9 * max(paid, 1.0) else "time_limit")


def _closed(cost: np.ndarray, x: np.ndarray, low: float, mip_gap: float) -> bool:
    """The cover ``x`` is within ``mip_gap`` of the bound ``low``."""
    paid = float(cost[x].sum())
    return paid - low <= mip_gap * paid


def _better_start(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray,
                  inc: np.ndarray | None, lag: Lagrange, seconds: float,
                  dived: np.ndarray | None = None, *, until: float | None = None) -> np.ndarray | None:
    """The cheapest of ``inc``, the LP dive's cover and Lagrangian-greedy covers (pruned), then local search.

    Past ``until`` (a ``time.perf_counter()`` value) no further Lagrangian-greedy cover is built (one is, when
    there is no start at all) and the local search gets what is left of ``seconds`` before it.
    """
    best = inc
    if dived is not None and (best is None or cost[dived].sum() < cost[best].sum()):
        best = dived
    for u in lag.snapshots:
        if best is not None and until is not None and time.perf_counter() > until:
            break
        x = prune(b, cost, demand, weight, lagrangian_greedy(b, cost, demand, u))
        if best is None or cost[x].sum() < cost[best].sum():
            best = x
    if best is None:
        return None
    if until is not None:
        seconds = min(seconds, max(until - time.perf_counter(), 0.0))
    return local_search(b, cost, demand, best, seconds=seconds) if seconds > 0 else best


def solve_components(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
                     incumbent: np.ndarray | None, time_limit: float, mip_gap: float,
                     block_solver: BlockSolver = solve_milp, workers: int = 1, dive: bool = True,
                     ruin: bool = True, cuts: bool = True, lns: bool = True) -> MilpResult:
    """A full (multi)cover split into independent blocks (no target shares a camera across them).

    Blocks are solved ``workers`` at a time, smallest first, each with a share of the remaining time
    proportional to its size (time a block does not use flows to the later ones); the bounds add up. Each
    block starts from the incumbent's columns in it and keeps them where the solver finds nothing better;
    its bound is the largest of the solver's, the Lagrangian one (:mod:`vigil.coverage.bounds`) and, with
    ``dive``, the LP's (:mod:`vigil.coverage.dive`), whose dive also offers its cover as the start; with
    ``ruin`` the start is improved by ruin-and-recreate local search first, and with ``lns`` a large block's
    start by re-solving windows of it exactly (:mod:`vigil.coverage.lns`).
    """
    n, m = b.shape
    k, lab = connected_components(sparse.bmat([[None, b], [b.T, None]], format="csr"), directed=False)
    row_lab, col_lab = lab[:n], lab[n:]
    sizes = np.bincount(lab, minlength=k)
    # rows and columns sorted by block once, so that each block is a contiguous slice (a town has hundreds)
    row_of, col_of = np.argsort(row_lab, kind="stable"), np.argsort(col_lab, kind="stable")
    row_at = np.searchsorted(row_lab[row_of], np.arange(k + 1))
    col_at = np.searchsorted(col_lab[col_of], np.arange(k + 1))
    by_block = b[row_of][:, col_of].tocsc()
    order = [int(c) for c in np.argsort(sizes, kind="stable") if row_at[c + 1] > row_at[c]]
    deadline = time.perf_counter() + time_limit
    inc = np.zeros(m, bool)
    if incumbent is not None:
        inc[incumbent] = True
    lock = threading.Lock()
    left = [float(sum(sizes[c] for c in order))]

    def run(c: int) -> tuple[np.ndarray, MilpResult]:
        rows, cols = row_of[row_at[c]:row_at[c + 1]], col_of[col_at[c]:col_at[c + 1]]
        with lock:
            now_left = deadline - time.perf_counter()
            share = min(max(now_left * min(workers * sizes[c] / left[0], 1.0), BLOCK_FLOOR_S), now_left)
            left[0] -= sizes[c]
        sub = by_block[:, col_at[c]:col_at[c + 1]][row_at[c]:row_at[c + 1]].tocsc()
        sub_inc = np.flatnonzero(inc[cols]) if incumbent is not None else None
        if share < MIN_BLOCK_S:  # the limit is (nearly) spent: keep the start, with a quick bound
            return cols, _expired(sub, cost[cols], demand[rows], weight[rows], sub_inc)
        return cols, _block(sub, cost[cols], demand[rows], weight[rows], sub_inc, share, mip_gap, block_solver,
                            dive, ruin, cuts, lns)

    if workers > 1 and len(order) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, order))
    else:
        results = [run(c) for c in order]
    chosen, bound, status = [], 0.0, "optimal"
    for cols, res in results:
        if res.status == "infeasible":
            return MilpResult(None, math.nan, "infeasible")
        if res.x is None:
            return MilpResult(None, math.nan, "time_limit")
        chosen.append(cols[res.x])
        bound += res.bound
        if res.status != "optimal":
            status = "time_limit"
    x = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    return MilpResult(np.sort(x), bound, status)
