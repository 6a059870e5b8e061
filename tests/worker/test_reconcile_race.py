"""A reconcile round survives a publish that drops a fenced lease while the round awaits the bucket.

Seen in bench/scale.py at 20,547 cameras: ``KeyError`` from the round, which then skipped the rest of it.
"""

from __future__ import annotations

from types import SimpleNamespace

from vigil.worker.assign import shards_of
from vigil.worker.runner import Worker


class _Table:
    """Renewals fail, and while one is awaited the publish path drops that shard's lease (as ``_publish`` does)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.released: list[str] = []

    async def renew(self, lease):
        if lease.key.startswith("shard."):
            self.worker.leases.pop(int(lease.key.split(".")[1]), None)
            return False
        return True

    async def acquire(self, key):
        return SimpleNamespace(key=key)

    async def revisions(self, prefix):
        return {"member.w1": 1, "member.w2": 2}

    async def holder(self, key):
        return None

    async def release(self, lease):
        self.released.append(lease.key)


async def test_a_lease_dropped_during_the_round_is_not_dropped_twice(sqlite_vigil):
    w = Worker(sqlite_vigil, nats_url="nats://127.0.0.1:1", name="w1", shards=16)
    w._table = _Table(w)
    w._member = SimpleNamespace(key="member.w1", revision=1)
    w.leases = {s: SimpleNamespace(key=f"shard.{s}") for s in range(16)}
    await w.reconcile()  # raised KeyError before
    assert set(w.leases) == shards_of("w1", {"w1", "w2"}, 16)  # what is ours was taken again
