"""Fast heuristics for covering problems: greedy, pruning, add-and-prune and ruin-and-recreate local search.

All work on a reduced problem: ``b`` (rows x cols, CSC, boolean), column ``cost``, row ``demand``
(cameras still needed) and row ``weight``. They are the incumbent the MILP must beat and the answer for
instances too large for it.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
from scipy import sparse

__all__ = ["greedy", "lagrangian_greedy", "local_search", "prune", "ruin_and_recreate"]


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


def _cols_of_rows(br: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """Every column entry of ``rows`` (a column appears once per row it serves there)."""
    starts, ends = br.indptr[rows], br.indptr[rows + 1]
    if len(rows) == 0:
        return np.zeros(0, br.indices.dtype)
    return np.concatenate([br.indices[a:e] for a, e in zip(starts, ends, strict=True)])


class _Cover:
    """A cover under change: chosen columns and each row's count, with moves that can be undone."""

    def __init__(self, b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, chosen: np.ndarray) -> None:
        self.b, self.br, self.cost, self.demand = b, b.tocsr(), cost, demand
        self.row_len = np.diff(self.br.indptr)
        self.inset = np.zeros(b.shape[1], bool)
        self.inset[chosen] = True
        self.cnt = _counts(b, chosen)
        self.log: list[tuple[int, int]] = []  # (column, +1 added | -1 dropped)

    def flip(self, j: int, sign: int) -> None:
        self.inset[j] = sign > 0
        self.cnt[_col(self.b, j)] += sign
        self.log.append((j, sign))

    def undo(self) -> None:
        for j, sign in reversed(self.log):
            self.inset[j] = sign < 0
            self.cnt[_col(self.b, j)] -= sign
        self.log = []

    def delta(self) -> float:
        return float(sum(sign * self.cost[j] for j, sign in self.log))

    def repair(self, rows: np.ndarray, u: np.ndarray, banned: np.ndarray, rng: np.random.Generator) -> None:
        """Re-cover ``rows`` left short, best Lagrangian score first (as :func:`lagrangian_greedy`)."""
        short = rows[self.cnt[rows] < self.demand[rows]]
        while len(short):
            occ = _cols_of_rows(self.br, short)
            price = np.repeat(u[short], self.row_len[short])
            cand, inv = np.unique(occ, return_inverse=True)
            mu = np.bincount(inv, minlength=len(cand)).astype(float)
            gamma = self.cost[cand] - np.bincount(inv, weights=price, minlength=len(cand))
            score = np.where(gamma > 0, gamma / mu, gamma * mu) + REPAIR_NOISE * rng.random(len(cand)) * self.cost[cand] / mu
            score[self.inset[cand] | banned[cand]] = np.inf
            if not np.isfinite(score).any():  # only the dropped columns serve these rows
                score = np.where(self.inset[cand], np.inf, gamma / mu)
            self.flip(int(cand[int(np.argmin(score))]), +1)
            short = short[self.cnt[short] < self.demand[short]]

    def prune_near(self, cols: list[int]) -> None:
        """Drop chosen columns that share a row with ``cols`` and are redundant, dearest first."""
        if not cols:
            return
        rows = np.unique(np.concatenate([_col(self.b, j) for j in cols]))
        near = np.unique(_cols_of_rows(self.br, rows))
        near = near[self.inset[near]]
        for p in near[np.argsort(-self.cost[near], kind="stable")]:
            pr = _col(self.b, p)
            if np.all(self.cnt[pr] - 1 >= self.demand[pr]):
                self.flip(int(p), -1)


RUIN_MAX = 3  # columns dropped per move, at most
REPAIR_NOISE = 0.05  # random share of a column's cost per row added to its repair score
STALL_MOVES = 3000  # the search stops once it has gone this many moves, and as many as it took to its best, without a gain


def ruin_and_recreate(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray, chosen: np.ndarray, *,
                      u: np.ndarray | None = None, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Iterated local search for full (multi)cover; the cheapest cover met, never dearer than ``chosen``.

    Each move drops 1 to :data:`RUIN_MAX` chosen columns around a random one, re-covers the rows they leave short by the Lagrangian score on prices ``u`` (zero prices: cost per
    row), prunes what became redundant nearby, and is kept unless it costs more (sideways moves let the
    search drift across plateaus). It stops at ``seconds`` or when it stalls (:data:`STALL_MOVES`), so a block
    whose start is already good leaves its time to the exact solver.
    """
    rng = np.random.default_rng(seed)
    u = np.zeros(b.shape[0]) if u is None else np.asarray(u, float)
    cov = _Cover(b, cost, demand, np.asarray(chosen, np.int64))
    cur = best = float(cost[cov.inset].sum())
    best_x = cov.inset.copy()
    banned = np.zeros(b.shape[1], bool)
    t_end = time.perf_counter() + seconds
    moves = at_best = 0
    while time.perf_counter() < t_end and cov.inset.any() and moves - at_best <= max(STALL_MOVES, at_best):
        moves += 1
        ch = np.flatnonzero(cov.inset)
        p0 = int(ch[rng.integers(len(ch))])
        near = np.unique(_cols_of_rows(cov.br, _col(b, p0)))
        near = near[cov.inset[near]]
        drop = rng.choice(near, size=min(len(near), int(rng.integers(1, RUIN_MAX + 1))), replace=False)
        for p in drop:
            cov.flip(int(p), -1)
        banned[drop] = True
        rows = np.unique(np.concatenate([_col(b, int(p)) for p in drop]))
        cov.repair(rows, u, banned, rng)
        banned[drop] = False
        cov.prune_near([j for j, sign in cov.log if sign > 0])
        d = cov.delta()
        if d > 1e-9:
            cov.undo()
            continue
        cov.log, cur = [], cur + d
        if cur < best - 1e-9:
            best, best_x, at_best = cur, cov.inset.copy(), moves
    return np.flatnonzero(best_x)
