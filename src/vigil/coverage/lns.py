"""MIP-based large-neighbourhood search for a full (multi)cover: free a compact part of a cover, re-solve it exactly.

A move frees a set ``F`` of chosen columns that lie close together (grown from a random chosen column through
the rows they share), keeps every other chosen column, and hands the exact solver the rows ``S`` that ``F``'s
removal leaves short, with every unchosen column that serves them. Any cover of ``S`` joined with the kept
columns covers the block, and ``F`` is one such cover (the solver's start), so a move never makes the cover
dearer; the move is kept when the solver finds a cheaper one. The window grows while the sub-problems are
proven quickly and shrinks when they are not. The solver is the block's own (HiGHS or CP-SAT), called with
the block solver's signature (:data:`vigil.coverage.milp.BlockSolver`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:  # milp imports this module
    from vigil.coverage.milp import MilpResult

__all__ = ["LnsStats", "lns"]

WINDOW_ROWS = 120  # rows a first window re-covers (grown or shrunk by how quickly its sub-problems are proven)
MIN_ROWS, MAX_ROWS = 20, 2000
SUB_LIMIT_S = 2.0  # the longest a sub-problem is given
QUICK = 0.25  # a sub-problem proven within this share of its limit lets the window grow
GROW, SHRINK = 1.3, 0.7
STALL_MOVES = 60  # the search stops after this many moves without a gain (and as many as it took to its last one)


@dataclass(frozen=True)
class LnsStats:
    """What a search did: moves made, moves that lowered the cost, and the last window size in rows."""

    moves: int
    gains: int
    rows: int


def _col(b: sparse.csc_matrix, j: int) -> np.ndarray:
    return b.indices[b.indptr[j]:b.indptr[j + 1]]


def _window(b: sparse.csc_matrix, br: sparse.csr_matrix, inset: np.ndarray, cnt: np.ndarray, demand: np.ndarray,
            rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chosen columns grown breadth-first from a random one through shared rows, and the rows they leave short.

    Growth stops once the short rows reach ``rows``; the last layer is taken in a random order.
    """
    chosen = np.flatnonzero(inset)
    seed = int(chosen[rng.integers(len(chosen))])
    free = np.zeros(b.shape[1], bool)
    free[seed] = True
    loss = np.zeros(b.shape[0], np.int64)
    loss[_col(b, seed)] += 1
    frontier = [seed]
    while frontier and int(np.count_nonzero(cnt - loss < demand)) < rows:
        touched = np.unique(np.concatenate([_col(b, j) for j in frontier]))
        nxt = np.unique(np.concatenate([br.indices[br.indptr[i]:br.indptr[i + 1]] for i in touched]))
        nxt = nxt[inset[nxt] & ~free[nxt]]
        rng.shuffle(nxt)
        frontier = []
        for j in nxt:
            free[j] = True
            loss[_col(b, int(j))] += 1
            frontier.append(int(j))
            if int(np.count_nonzero(cnt - loss < demand)) >= rows:
                break
    return np.flatnonzero(free), np.flatnonzero(cnt - loss < demand)


def lns(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, chosen: np.ndarray, *,
        solver: Callable[..., MilpResult], seconds: float, mip_gap: float = 1e-4, seed: int = 0,
        rows: int = WINDOW_ROWS, max_rows: int = MAX_ROWS) -> tuple[np.ndarray, LnsStats]:
    """The cheapest cover met by re-solving windows of ``chosen`` exactly; never dearer than ``chosen``.

    ``solver`` is a block solver (:func:`vigil.coverage.milp.solve_milp` or
    :func:`vigil.coverage.cpsat.solve_cpsat`); each sub-problem gets at most :data:`SUB_LIMIT_S` and what is
    left of ``seconds``. ``rows`` is the first window's size in short rows (:data:`MIN_ROWS` to ``max_rows``,
    grown by :data:`GROW` after a sub-problem proven within :data:`QUICK` of its limit, shrunk by
    :data:`SHRINK` after one that was not). The search stops at ``seconds`` or
    when it stalls (:data:`STALL_MOVES`).
    """
    t_end = time.perf_counter() + seconds
    rng = np.random.default_rng(seed)
    b = sparse.csc_matrix(b, dtype=bool)
    br = b.tocsr()
    inset = np.zeros(b.shape[1], bool)
    inset[np.asarray(chosen, np.int64)] = True
    cnt = np.asarray(b @ inset.astype(np.int64)).ravel().astype(np.int64)
    size = float(max(min(MIN_ROWS, max_rows), min(rows, max_rows, b.shape[0])))
    moves = gains = last_gain = 0
    while inset.any() and moves - last_gain <= max(STALL_MOVES, last_gain):
        left = t_end - time.perf_counter()
        if left < 0.1:
            break
        moves += 1
        free, short = _window(b, br, inset, cnt, demand, int(size), rng)
        if len(short) == 0:  # the freed columns were redundant
            inset[free] = False
            cnt = np.asarray(b @ inset.astype(np.int64)).ravel().astype(np.int64)
            gains, last_gain = gains + 1, moves
            continue
        kept = inset.copy()
        kept[free] = False
        cols = np.unique(np.concatenate([br.indices[br.indptr[i]:br.indptr[i + 1]] for i in short]))
        cols = cols[~kept[cols]]
        sub = b[short][:, cols].tocsc()
        need = demand[short] - np.asarray(b[short] @ kept.astype(np.int64)).ravel().astype(np.int64)
        start = np.flatnonzero(inset[cols])
        limit = min(SUB_LIMIT_S, left)
        t0 = time.perf_counter()
        res = solver(sub, cost[cols], need, np.ones(len(short)), need=None, budget=None, target_mode=True,
                     time_limit=limit, mip_gap=mip_gap, incumbent=start)
        took = time.perf_counter() - t0
        if res.status == "optimal" and took < QUICK * limit:
            size = min(size * GROW, max_rows, b.shape[0])
        elif res.status != "optimal":
            size = max(size * SHRINK, min(MIN_ROWS, max_rows))
        if res.x is None:
            continue
        got = cols[np.asarray(res.x, np.int64)]
        if not np.all(np.asarray(b[short][:, got].sum(axis=1)).ravel() >= need):
            continue  # not a cover of the window: never taken
        if float(cost[got].sum()) < float(cost[cols[start]].sum()) - 1e-9:
            inset[cols[start]] = False
            inset[got] = True
            cnt = np.asarray(b @ inset.astype(np.int64)).ravel().astype(np.int64)
            gains, last_gain = gains + 1, moves
    return np.flatnonzero(inset), LnsStats(moves, gains, int(math.floor(size)))
