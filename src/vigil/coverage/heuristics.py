"""Fast heuristics for covering problems: lazy greedy, redundancy pruning and add-and-prune local search.

All work on a reduced problem: ``b`` (rows x cols, CSC, boolean), column ``cost``, row ``demand``
(cameras still needed) and row ``weight``. They are the incumbent the MILP must beat and the answer for
instances too large for it.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
from scipy import sparse

__all__ = ["greedy", "lagrangian_greedy", "local_search", "prune"]


def _col(b: sparse.csc_matrix, j: int) -> np.ndarray:
    return b.indices[b.indptr[j]:b.indptr[j + 1]]


def greedy(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, *,
           need: float | None = None, budget: float | None = None) -> np.ndarray:
    """Pick columns by weight of unmet demand per unit cost until ``need`` weight is met (all by default).

    With ``budget``, columns that no longer fit are skipped and picking stops when nothing fits.
    """
    residual = demand.astype(np.int64).copy()
    live = (residual > 0).astype(float) * weight
    goal = float((weight * np.clip(residual, 0, None)).sum()) if need is None else need
    c = np.maximum(cost, 1e-9)
    gains = b.T @ live
    heap = [(-g / c[j], j) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    done, spent = 0.0, 0.0
    while heap and done < goal - 1e-9:
        _, j = heapq.heappop(heap)
        if budget is not None and spent + cost[j] > budget + 1e-9:
            continue
        rows = _col(b, j)
        g = float(weight[rows][residual[rows] > 0].sum())
        if g <= 0:
            continue
        if heap and -g / c[j] > heap[0][0] + 1e-12:
            heapq.heappush(heap, (-g / c[j], j))
            continue
        chosen.append(j)
        spent += cost[j]
        newly = rows[residual[rows] == 1]
        done += float(weight[newly].sum()) if need is not None else float(weight[rows][residual[rows] > 0].sum())
        residual[rows] -= 1
    return np.array(chosen, dtype=np.int64)


def lagrangian_greedy(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Greedy on Lagrangian prices (Caprara, Fischetti and Toth's score): a full cover, usually far cheaper.

    A column's score is γ/μ when γ > 0 and γ·μ otherwise, with μ the rows it still serves and γ its cost
    less their multipliers ``u``. Scores only rise as rows are served, so a lazy heap gives the exact order.
    """
    residual = demand.astype(np.int64).copy()

    def score(j: int) -> float:
        rows = _col(b, j)
        live = rows[residual[rows] > 0]
        mu = len(live)
        if mu == 0:
            return np.inf
        gamma = float(cost[j] - u[live].sum())
        return gamma / mu if gamma > 0 else gamma * mu

    heap = [(score(j), j) for j in range(b.shape[1])]
    heap = [h for h in heap if h[0] < np.inf]
    heapq.heapify(heap)
    chosen: list[int] = []
    left = int((residual > 0).sum())
    while heap and left > 0:
        _, j = heapq.heappop(heap)
        now = score(j)
        if now == np.inf:
            continue
        if heap and now > heap[0][0] + 1e-12:
            heapq.heappush(heap, (now, j))
            continue
        chosen.append(j)
        rows = _col(b, j)
        residual[rows] -= 1
        left -= int(np.count_nonzero(residual[rows] == 0))
    return np.array(chosen, dtype=np.int64)


def _counts(b: sparse.csc_matrix, chosen: np.ndarray) -> np.ndarray:
    x = np.zeros(b.shape[1])
    x[chosen] = 1
    return np.asarray(b @ x).astype(np.int64)


def prune(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, weight: np.ndarray, chosen: np.ndarray, *,
          need: float | None = None) -> np.ndarray:
    """Drop chosen columns, dearest first, whose removal keeps the demand (or the ``need`` weight) met."""
    cnt = _counts(b, chosen)
    met = float(weight[cnt >= np.maximum(demand, 1)].sum())
    keep = set(int(j) for j in chosen)
    for j in sorted(keep, key=lambda j: (-cost[j], len(_col(b, j)))):
        rows = _col(b, j)
        if need is None:
            ok = bool(np.all(cnt[rows] - 1 >= demand[rows]))
        else:
            lost = float(weight[rows][(cnt[rows] - 1 < np.maximum(demand[rows], 1)) & (cnt[rows] >= demand[rows])].sum())
            ok = met - lost >= need - 1e-9
            if ok:
                met -= lost
        if ok:
            cnt[rows] -= 1
            keep.discard(j)
    return np.array(sorted(keep), dtype=np.int64)


def local_search(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, chosen: np.ndarray, *,
                 seconds: float = 2.0) -> np.ndarray:
    """Add one column and prune the chosen columns it makes redundant; keep the move if cost falls.

    Only for full (multi)cover: every row must keep ``demand`` cameras.
    """
    t_end = time.perf_counter() + seconds
    br = b.tocsr()
    cnt = _counts(b, chosen)
    inset = np.zeros(b.shape[1], dtype=bool)
    inset[chosen] = True
    improved = True
    while improved and time.perf_counter() < t_end:
        improved = False
        # columns touching rows covered exactly at their demand are the promising ones
        tight = np.flatnonzero((cnt == demand) & (demand > 0))
        tight_x = np.zeros(b.shape[0])
        tight_x[tight] = 1
        score = b.T @ tight_x
        order = np.argsort(-score, kind="stable")
        for q in order:
            if time.perf_counter() > t_end or score[q] < 2:
                break
            if inset[q]:
                continue
            rows = _col(b, q)
            cnt[rows] += 1
            near = np.unique(np.concatenate([_row_cols(br, i) for i in rows]))
            near = near[inset[near]]
            removed = []
            for p in sorted(near, key=lambda j: -cost[j]):
                pr = _col(b, p)
                if np.all(cnt[pr] - 1 >= demand[pr]):
                    cnt[pr] -= 1
                    removed.append(p)
            if sum(cost[p] for p in removed) > cost[q] + 1e-9:
                inset[q] = True
                inset[removed] = False
                improved = True
            else:
                for p in removed:
                    cnt[_col(b, p)] += 1
                cnt[rows] -= 1
    return np.flatnonzero(inset)


def _row_cols(br: sparse.csr_matrix, i: int) -> np.ndarray:
    return br.indices[br.indptr[i]:br.indptr[i + 1]]
