"""Choosing cameras: weighted set cover, coverage to a target share, maximal coverage under a budget, k-coverage.

Build a :class:`CoverageProblem` from a coverage matrix, then ``solve(problem, solver=...)`` returns a
:class:`Plan`. Existing cameras are fixed columns. Targets that no column sees are blind spots: they are
counted, never dropped silently. The exact solver is a MILP (HiGHS) with a time limit that reports the
lower bound and the gap; greedy + pruning + local search gives the incumbent it must beat and the answer
for instances too large for it.
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse

from vigil.core.errors import InputError, VigilError
from vigil.coverage.heuristics import greedy, local_search, prune
from vigil.coverage.presolve import merge_rows, undominated_cols, undominated_rows
from vigil.coverage.steps import Step, StepLog

__all__ = ["GAP_WARN", "SOLVERS", "CoverageProblem", "InfeasiblePlanError", "Plan", "Step", "gap_words", "solve"]

Solver = Literal["auto", "highs", "cpsat", "greedy"]
SOLVERS = ("auto", "highs", "cpsat", "greedy")
AUTO_MILP_MAX_NNZ = 3_000_000
CPSAT_WORKERS = 8  # CP-SAT's LP and core-based bounds run only in a portfolio of 4 workers or more
LOCAL_SEARCH_SHARE = 0.25  # the most of the time left that the first local search takes
MIN_EXACT_S = 0.05  # less time than this left after the heuristic: the exact solver is not started
GAP_WARN = 0.01  # a plan proven only within more than 1 % of the cheapest is flagged in the report


class InfeasiblePlanError(VigilError, ValueError):
    """No set of cameras meets the requested coverage within the budget."""


@dataclass(frozen=True)
class CoverageProblem:
    """A covering problem over a boolean (targets x columns) matrix.

    ``target``: the share of coverable target weight to cover (least cost); ``budget``: the most to spend
    (greatest coverage when ``target`` is None); ``k``: cameras needed per target (k-coverage).
    """

    a: sparse.csc_matrix
    cost: np.ndarray
    fixed: np.ndarray
    weight: np.ndarray
    k: int = 1
    target: float | None = 1.0
    budget: float | None = None

    @classmethod
    def from_matrix(cls, a: sparse.spmatrix, cost: np.ndarray, *, fixed: np.ndarray | None = None,
                    weight: np.ndarray | None = None, k: int = 1, target: float | None = 1.0,
                    budget: float | None = None) -> CoverageProblem:
        """Validate the inputs ("expected shape vs got shape") and build the problem."""
        a = sparse.csc_matrix(a, dtype=bool)
        n, m = a.shape
        cost = np.asarray(cost, float)
        fixed = np.zeros(m, bool) if fixed is None else np.asarray(fixed, bool)
        weight = np.ones(n) if weight is None else np.asarray(weight, float)
        for name, arr, want in (("cost", cost, m), ("fixed", fixed, m), ("weight", weight, n)):
            if arr.shape != (want,):
                raise InputError(f"{name}: expected shape ({want},), got {arr.shape}")
        if np.any(cost < 0) or np.any(weight < 0):
            raise InputError("costs and weights must not be negative")
        if k < 1:
            raise InputError("k must be at least 1")
        if target is None and budget is None:
            raise InputError("give a target share or a budget")
        if target is not None and not 0 < target <= 1:
            raise InputError(f"target share must be in (0, 1], got {target}")
        if budget is not None and budget < 0:
            raise InputError("the budget must not be negative")
        if k > 1 and target is not None and target < 1:
            raise InputError("k-coverage plans cover every coverable target (target 1.0)")
        return cls(a, cost, fixed, weight, k, target, budget)


@dataclass(frozen=True)
class Plan:
    """The chosen columns and what they achieve."""

    chosen: np.ndarray  # indices of new (non-fixed) columns
    cost: float
    count: np.ndarray  # cameras seeing each target (existing + new)
    count_before: np.ndarray  # existing cameras seeing each target
    coverable: np.ndarray  # bool: some column (existing or candidate) sees the target
    lower_bound: float
    gap: float
    solver: str
    status: str  # optimal | within_gap | time_limit | heuristic
    seconds: float
    stats: dict[str, float] = field(default_factory=dict)
    time_limit_hit: bool = False  # the limit stopped a reduction, the local search or the solver
    log: tuple[Step, ...] = ()  # the solve's steps in order, each with its time and whether the limit cut it

    @property
    def blind_spots(self) -> np.ndarray:
        """Indices of targets no candidate or existing camera can see."""
        return np.flatnonzero(~self.coverable)


@dataclass
class _Reduced:
    b: sparse.csc_matrix
    cols: np.ndarray  # original column of each reduced column
    cost: np.ndarray
    demand: np.ndarray
    weight: np.ndarray
    need: float | None  # weight to cover (share mode) or None (all rows)


def solve(problem: CoverageProblem, *, solver: Solver = "auto", time_limit: float = 60.0,
          mip_gap: float = 1e-4, local_search_s: float = 2.0, workers: int | None = None, dive: bool = True,
          ruin: bool = True, cuts: bool = True, lns: bool = True) -> Plan:
    """Solve ``problem``; raise :class:`InfeasiblePlanError` when the target cannot be met within the budget.

    ``solver``: ``highs`` (the MILP), ``cpsat`` (OR-Tools CP-SAT on the same model), ``greedy`` (heuristics
    only) or ``auto`` (HiGHS unless the instance is too large). ``workers``: independent blocks solved at
    once (default: the CPU count, at most 4). ``dive``: full covers also get the LP bound and the LP dive's
    start in each block (:mod:`vigil.coverage.dive`; off only to compare against the formulation without it).
    ``ruin``: full covers improve each block's start by ruin-and-recreate local search before the solver
    (:func:`vigil.coverage.heuristics.ruin_and_recreate`; off only to compare). ``cuts``: with ``dive``, each
    block's LP bound is raised by rounds of {0, 1/2}-cuts on row triples (:mod:`vigil.coverage.cuts`).
    ``lns``: full covers re-solve windows of each large block's start with the exact solver
    (:mod:`vigil.coverage.lns`; off only to compare).
    """
    if solver not in SOLVERS:
        raise InputError(f"solver: expected one of {', '.join(SOLVERS)}, got {solver!r}")
    t0 = time.perf_counter()
    log = StepLog(t0 + time_limit)
    p = problem
    fixed_cols = np.flatnonzero(p.fixed)
    before = np.asarray(p.a[:, fixed_cols].sum(axis=1)).ravel().astype(np.int64)
    total = np.asarray(p.a.sum(axis=1)).ravel().astype(np.int64)
    coverable = total > 0
    red, stats = _reduce(p, before, total, log)
    stats["reduce_s"] = time.perf_counter() - t0
    heur = _heuristic(red, p, local_search_s, log)
    stats["greedy_cost"] = float(red.cost[heur].sum())
    stats["greedy_count"] = float(len(heur))
    g: np.ndarray | None = heur
    if p.budget is not None and p.target is not None and red.cost[heur].sum() > p.budget + 1e-9:
        g = None  # greedy overspent; the MILP decides feasibility
    use_milp = solver in ("highs", "cpsat") or (solver == "auto" and red.b.nnz <= AUTO_MILP_MAX_NNZ)
    engine = "cpsat" if solver == "cpsat" else "highs"
    if use_milp and red.b.shape[1] > 0 and (log.left() >= MIN_EXACT_S or g is None):
        with log.step(engine):
            chosen_red, lb, status, name = _exact(red, p, g, max(log.left(), MIN_EXACT_S), mip_gap, engine,
                                                  workers or min(os.cpu_count() or 1, 4), dive, ruin, cuts,
                                                  lns)
    elif g is None:
        raise InfeasiblePlanError(_infeasible_msg(p, red))
    elif use_milp and red.b.shape[1] > 0:
        log.skip(engine, "no time left")
        chosen_red, lb, status, name = g, math.nan, "time_limit", f"greedy+prune (no time left for {engine})"
    else:
        chosen_red, lb, status, name = g, math.nan, "heuristic", "greedy+prune+local-search"
    chosen = red.cols[chosen_red]
    x = p.fixed.astype(float)
    x[chosen] = 1
    count = np.asarray(p.a @ x).astype(np.int64)
    cost = float(p.cost[chosen].sum())
    if p.target is not None:
        lb = _round_up(lb, red.cost)
    gap = _gap(cost, lb, p)
    if status != "optimal" and gap <= 1e-9:
        status = "optimal"  # the bound meets the plan's cost: proven, whatever stopped the solver
    elif status == "optimal" and gap > 1e-6 and not _integral_gap_closed(cost, lb, p.cost):
        status = "within_gap"  # HiGHS stopped at mip_gap, not at a proof of optimality
    hit = log.cut or status == "time_limit"
    return Plan(np.sort(chosen), cost, count, before, coverable, lb, gap, name, status,
                time.perf_counter() - t0, stats, time_limit_hit=hit, log=tuple(log.steps))


def _exact(red: _Reduced, p: CoverageProblem, g: np.ndarray | None, time_limit: float,
           mip_gap: float, engine: str, workers: int, dive: bool = True,
           ruin: bool = True, cuts: bool = True, lns: bool = True) -> tuple[np.ndarray, float, str, str]:
    """The exact answer (per independent block for full covers), or the heuristic's if better."""
    from vigil.coverage.milp import solve_components, solve_milp

    if engine == "cpsat":
        from vigil.coverage.cpsat import solve_cpsat

        one = functools.partial(solve_cpsat, workers=CPSAT_WORKERS)
        workers = 1  # CP-SAT shares the cores among its own workers
    else:
        one = solve_milp  # type: ignore[assignment]
    if red.need is None and p.budget is None and p.target is not None:
        res = solve_components(red.b, red.cost, red.demand, red.weight, incumbent=g, time_limit=time_limit,
                               mip_gap=mip_gap, block_solver=one, workers=workers, dive=dive, ruin=ruin,
                               cuts=cuts, lns=lns)
    else:
        res = one(red.b, red.cost, red.demand, red.weight, need=red.need, budget=p.budget,
                  target_mode=p.target is not None, time_limit=time_limit, mip_gap=mip_gap)
    if res.x is None:
        if res.status == "infeasible":
            raise InfeasiblePlanError(_infeasible_msg(p, red))
        if g is None:
            raise InfeasiblePlanError(f"no feasible plan found within {time_limit:.0f} s")
        return g, res.bound, "time_limit", f"greedy ({engine} found nothing better)"
    if g is not None and red.cost[g].sum() < red.cost[res.x].sum() - 1e-9 and p.target is not None:
        return g, res.bound, res.status, f"greedy+local-search (bound by {engine})"
    return res.x, res.bound, res.status, engine


def _round_up(lb: float, costs: np.ndarray) -> float:
    """With integer costs every plan costs a multiple of their greatest common divisor: round the bound up."""
    if not math.isfinite(lb) or len(costs) == 0 or not np.all(costs == np.round(costs)):
        return lb
    step = int(np.gcd.reduce(np.round(costs).astype(np.int64)))
    return float(math.ceil(lb / step - 1e-6) * step) if step > 0 else lb


def gap_words(gap: float | None, status: str) -> tuple[str, str | None]:
    """The proven gap in words, and a warning when it is above :data:`GAP_WARN` (or there is no proof)."""
    if gap is None or (isinstance(gap, float) and math.isnan(gap)):
        if status == "heuristic":
            return ("not proven: a heuristic plan, without a bound",
                    "Warning: no bound was computed, so this plan may cost more than the cheapest possible one; "
                    "run it with the MILP solver (highs or cpsat).")
        return "no cost bound (greatest coverage within the budget)", None
    if status == "optimal" or gap <= 1e-6:
        return "proven the cheapest possible plan", None
    pct = 100 * gap
    words = f"proven within {pct:.{1 if pct >= 0.1 else 2}f} % of the cheapest possible plan"
    if gap > GAP_WARN:
        return words, (f"Warning: the proven gap is {pct:.1f} %, above 1 %: a cheaper plan may exist; "
                       "a longer time limit can tighten the proof.")
    return words, None


def _integral_gap_closed(cost: float, lb: float, costs: np.ndarray) -> bool:
    """With integer costs a bound within 1 of the cost proves optimality."""
    return bool(np.all(costs == np.round(costs))) and math.ceil(lb - 1e-6) >= cost - 1e-9


def _gap(cost: float, lb: float, p: CoverageProblem) -> float:
    if math.isnan(lb):
        return math.nan
    if p.target is None:  # maximal coverage: lb is an upper bound on covered weight; no cost gap
        return math.nan
    return max(0.0, (cost - lb) / cost) if cost > 0 else 0.0


def _infeasible_msg(p: CoverageProblem, red: _Reduced) -> str:
    if p.target is not None and p.budget is not None:
        return (f"coverage {p.target:.0%} of the coverable targets cannot be reached within the budget "
                f"{p.budget:g}; raise --budget or lower --target")
    return "no plan meets the request"


def _reduce(p: CoverageProblem, before: np.ndarray, total: np.ndarray,
            log: StepLog | None = None) -> tuple[_Reduced, dict[str, float]]:
    """Keep rows still in need and free columns; merge identical rows; drop dominated rows and columns.

    The two dominance checks stop at ``log``'s deadline (what they did not reach stays in the model).
    """
    log = log if log is not None else StepLog(math.inf)
    free = np.flatnonzero(~p.fixed)
    avail = total - before
    if p.target is None:  # maximal coverage: rows not yet covered count by weight
        demand = ((before == 0) & (avail > 0)).astype(np.int64)
    else:
        demand = np.clip(np.minimum(p.k, total) - before, 0, None)
    rows = np.flatnonzero(demand > 0)
    b = p.a[rows][:, free].tocsc()
    cols = free
    w = p.weight[rows]
    d = demand[rows]
    need = None
    if p.target is not None and p.target < 1:
        cover_w = float(p.weight[total > 0].sum())
        have = float(p.weight[before > 0].sum())
        need = max(0.0, p.target * cover_w - have - 1e-9)
    stats = {"rows_in": float(len(rows)), "cols_in": float(len(free))}
    keep_c = np.flatnonzero(np.diff(b.indptr) > 0)
    b, cols = b[:, keep_c], cols[keep_c]
    with log.step("merge rows") as note:
        n0 = b.shape[0]
        b, d, w = merge_rows(b, d, w)
        note(f"{n0} rows into {b.shape[0]}")
    if p.k == 1:
        for rnd in (1, 2):
            with log.step(f"dominated columns {rnd}") as note:
                kc, check = undominated_cols(b, p.cost[cols], deadline=log.deadline)
                note(f"checked {check.checked} of {check.total}, kept {len(kc)}", cut=check.cut)
            b, cols = b[:, kc], cols[kc]
            if need is None and p.target is not None:
                with log.step(f"dominated rows {rnd}") as note:
                    kr, check = undominated_rows(b, deadline=log.deadline)
                    note(f"checked {check.checked} of {check.total}, kept {len(kr)}", cut=check.cut)
                b, d, w = b[kr], d[kr], w[kr]
    stats.update(rows=float(b.shape[0]), cols=float(b.shape[1]), nnz=float(b.nnz))
    return _Reduced(b.tocsc(), cols, p.cost[cols], d, w, need), stats


def _heuristic(red: _Reduced, p: CoverageProblem, ls_seconds: float, log: StepLog) -> np.ndarray:
    """Greedy, pruned, then local search for ``ls_seconds``, at most a quarter of the time left.

    Greedy and pruning always finish: without them there is no plan at all.
    """
    if red.b.shape[1] == 0:
        return np.zeros(0, np.int64)
    with log.step("greedy"):
        if p.target is None:
            return greedy(red.b, red.cost, red.demand, red.weight, need=float(red.weight.sum()), budget=p.budget)
        g = greedy(red.b, red.cost, red.demand, red.weight, need=red.need)
        g = prune(red.b, red.cost, red.demand, red.weight, g, need=red.need)
    if red.need is None and ls_seconds > 0:
        seconds = min(ls_seconds, LOCAL_SEARCH_SHARE * log.left())
        with log.step("local search") as note:
            if seconds > 0:
                g = local_search(red.b, red.cost, red.demand, g, seconds=seconds)
            note(f"{seconds:.2f} s", cut=seconds < ls_seconds)
    return g
