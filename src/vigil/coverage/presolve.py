"""Vectorised reductions of a covering matrix: identical rows merged, dominated columns and rows found.

Every reduction is optional for correctness (an unreduced model has the same optimum), so the two
inclusion checks take a deadline: past it they stop between chunks and report how far they got, and
what they did not check simply stays in the model.

Set inclusion without the Gram matrix: a column can only lie inside columns that contain its rarest row,
so its candidates are that row's columns; a candidate pair survives a round while the next of the
column's rows (rarest first) is among the candidate's, a membership test of sorted ``col * n + row``
keys (``np.searchsorted``). Pairs fall away after a row or two, so the work is about the candidate
count, not the pairs sharing any row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["Check", "merge_rows", "subset_pairs", "undominated_cols", "undominated_rows"]

PAIRS_PER_CHUNK = 2_000_000  # candidate pairs tested at once (memory: a few arrays of this many int64)
_HASH_SEED = 15


@dataclass(frozen=True)
class Check:
    """How far an inclusion check got: ``checked`` of ``total`` sets; ``cut`` when the deadline stopped it."""

    checked: int
    total: int

    @property
    def cut(self) -> bool:
        """The deadline stopped the check before every set was checked."""
        return self.checked < self.total


def merge_rows(b: sparse.csc_matrix, d: np.ndarray,
               w: np.ndarray) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray]:
    """Merge rows with the same columns and demand into their first one, whose weight is the group's sum.

    Rows are grouped by two random 64-bit set hashes, their length and demand, then checked entry by entry
    against their group's first row, so a hash collision can never merge different rows.
    """
    n = b.shape[0]
    if n == 0:
        return b, d, w
    br = sparse.csr_matrix(b)
    br.sort_indices()
    length = np.diff(br.indptr)
    rng = np.random.default_rng(_HASH_SEED)
    keys = [length.astype(np.uint64), np.asarray(d).astype(np.uint64)]
    for _ in range(2):
        salt = rng.integers(0, 2**63, size=br.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        keys.append(_row_sums(salt[br.indices], br.indptr))
    _, first, group = np.unique(np.column_stack(keys), axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))  # groups in order of their first row
    group, first = rank[group], np.sort(first)
    rep = first[group]
    rows = np.repeat(np.arange(n), length)
    offset = np.arange(br.nnz) - np.repeat(br.indptr[:-1], length)
    if not np.array_equal(br.indices, br.indices[br.indptr[rep[rows]] + offset]):
        raise AssertionError("row hash collision")  # probability about 2**-128; never silently merged
    wsum = np.bincount(group, weights=w, minlength=len(first))
    return sparse.csc_matrix(br[first]), d[first], wsum


def _row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Per-row sums of ``values`` (uint64, wrapping), 0 for empty rows."""
    csum = np.concatenate([np.zeros(1, np.uint64), np.cumsum(values, dtype=np.uint64)])
    return csum[indptr[1:]] - csum[indptr[:-1]]


def subset_pairs(b: sparse.csc_matrix, *, key: np.ndarray | None = None,
                 deadline: float | None = None) -> tuple[np.ndarray, np.ndarray, Check]:
    """Pairs ``(j, k)``, ``j != k``, of columns of ``b`` whose row sets satisfy rows(j) ⊆ rows(k).

    With ``key`` only pairs with ``key[k] <= key[j]`` are returned (and searched). Past ``deadline``
    (a ``time.perf_counter()`` value) the search stops between chunks of columns ``j``: the pairs of the
    columns checked so far are returned, and the :class:`Check` says how many that was.
    """
    b = sparse.csc_matrix(b, dtype=bool)
    b.sort_indices()
    n, m = b.shape
    col_len = np.diff(b.indptr).astype(np.int64)
    todo = np.flatnonzero(col_len > 0)
    if len(todo) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), Check(0, 0)
    row_deg = np.bincount(b.indices, minlength=n)
    col_of = np.repeat(np.arange(m), col_len)
    order = np.argsort((col_of.astype(np.int64) * (int(row_deg.max()) + 1) + row_deg[b.indices]) * n + b.indices)
    rarest = b.indices[order]  # each column's rows, rarest first
    members = col_of.astype(np.int64) * n + b.indices  # sorted: columns ascending, rows ascending
    by_row = sparse.csr_matrix(b)
    by_row.sort_indices()
    cand = row_deg[rarest[b.indptr[todo]]].astype(np.int64)
    bounds = np.searchsorted(np.cumsum(cand), np.arange(PAIRS_PER_CHUNK, int(cand.sum()), PAIRS_PER_CHUNK))
    out_j, out_k, checked = [], [], 0
    for chunk in np.split(np.arange(len(todo)), bounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        js = todo[chunk]
        j, k = _candidates(js, rarest, b.indptr, by_row)
        ok = (k != j) & (col_len[k] >= col_len[j])
        if key is not None:
            ok &= key[k] <= key[j]
        j, k = _confirm(j[ok], k[ok], rarest, b.indptr, col_len, members, n)
        out_j.append(j)
        out_k.append(k)
        checked += len(js)
    if not out_j:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), Check(0, len(todo))
    return np.concatenate(out_j), np.concatenate(out_k), Check(checked, len(todo))


def _candidates(js: np.ndarray, rarest: np.ndarray, indptr: np.ndarray,
                by_row: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Every (j, k) with k a column of j's rarest row."""
    r1 = rarest[indptr[js]]
    start, count = by_row.indptr[r1], np.diff(by_row.indptr)[r1]
    j = np.repeat(js, count)
    pos = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count) + np.repeat(start, count)
    return j, by_row.indices[pos].astype(np.int64)


def _confirm(j: np.ndarray, k: np.ndarray, rarest: np.ndarray, indptr: np.ndarray, col_len: np.ndarray,
             members: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the pairs whose column k holds every row of column j (the first, rarest row it holds already)."""
    done_j, done_k = [j[:0]], [k[:0]]
    t = 1
    while len(j):
        full = col_len[j] <= t
        done_j.append(j[full])
        done_k.append(k[full])
        j, k = j[~full], k[~full]
        q = k * n + rarest[indptr[j] + t]
        pos = np.minimum(np.searchsorted(members, q), len(members) - 1)
        hit = members[pos] == q
        j, k = j[hit], k[hit]
        t += 1
    return np.concatenate(done_j), np.concatenate(done_k)


def undominated_cols(b: sparse.csc_matrix, cost: np.ndarray, *,
                     deadline: float | None = None) -> tuple[np.ndarray, Check]:
    """Columns not dominated: no other column covers a superset at no greater cost (ties: lower index wins).

    "k dominates j" is a strict partial order, so every dominated column has an undominated dominator.
    """
    col_len = np.diff(b.indptr)
    j, k, check = subset_pairs(b, key=cost, deadline=deadline)
    strict = (col_len[k] > col_len[j]) | (cost[k] < cost[j]) | (k < j)
    alive = col_len > 0
    alive[j[strict]] = False
    return np.flatnonzero(alive), check


def undominated_rows(b: sparse.csc_matrix, *, deadline: float | None = None) -> tuple[np.ndarray, Check]:
    """Rows whose columns are a strict superset of another row's are dropped (covering that row covers them)."""
    bt = sparse.csc_matrix(sparse.csr_matrix(b).T)  # the rows of b as columns
    row_len = np.diff(bt.indptr)
    r, i, check = subset_pairs(bt, deadline=deadline)
    alive = np.ones(b.shape[0], bool)
    alive[i[row_len[i] > row_len[r]]] = False
    return np.flatnonzero(alive), check
