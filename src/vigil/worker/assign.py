"""Pure assignment: cameras to shards by a stable hash, shards to workers by rendezvous hashing.

* :func:`shard_of` – a camera's shard never changes (BLAKE2b of its id, modulo ``shards``), so a
  camera moves between workers only when its whole shard does.
* :func:`owner_of` / :func:`assign` – highest-random-weight (rendezvous) hashing: each shard goes to
  the live worker with the highest ``hash(worker, shard)``. When a worker joins it takes over only
  the shards it now wins (about ``1/n`` of them); when one leaves, only its own shards move, and
  every shard has exactly one owner for a given set of workers.

No I/O here; :mod:`vigil.worker.runner` applies the result through leases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_SHARDS", "assign", "moved", "owner_of", "shard_of", "shards_of"]

DEFAULT_SHARDS = 256


def _h64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "big")


def shard_of(camera_id: str, shards: int = DEFAULT_SHARDS) -> int:
    """The shard (``0 .. shards-1``) of a camera id: stable across processes, releases and machines."""
    if shards <= 0:
        raise ValueError("shards must be positive")
    return _h64(f"camera:{camera_id}") % shards


def owner_of(shard: int, workers: Iterable[str]) -> str | None:
    """The worker with the highest rendezvous weight for ``shard`` (``None`` without workers)."""
    best: tuple[int, str] | None = None
    for w in workers:
        cand = (_h64(f"{w}/{shard}"), w)
        if best is None or cand > best:
            best = cand
    return None if best is None else best[1]


def assign(workers: Iterable[str], shards: int = DEFAULT_SHARDS) -> dict[int, str]:
    """Every shard's owner among ``workers`` (empty when there are none)."""
    ws = sorted(set(workers))
    if not ws:
        return {}
    return {s: owner_of(s, ws) or ws[0] for s in range(shards)}


def shards_of(worker: str, workers: Iterable[str], shards: int = DEFAULT_SHARDS) -> set[int]:
    """The shards ``worker`` should own when ``workers`` are alive (it need not be among them)."""
    return {s for s, w in assign({*workers, worker}, shards).items() if w == worker}


def moved(before: Mapping[int, str], after: Mapping[int, str]) -> set[int]:
    """The shards whose owner differs between two assignments."""
    return {s for s in set(before) | set(after) if before.get(s) != after.get(s)}
