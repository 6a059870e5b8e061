"""Fencing at storage for what a worker writes straight to the database (segment rows).

The writer refuses a probe batch whose token is lower than the highest stored for its shard
(:class:`~vigil.worker.models.ShardFence`). A worker raises that fence itself as soon as it wins
a shard (:func:`raise_fence`), and every segment row it indexes first checks, in the same
transaction, that no later owner has raised it above its own token (:func:`fence_holds`): a
worker that lost its lease cannot add rows after its successor took the shard.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.core.models import utcnow
from vigil.worker.models import ShardFence

__all__ = ["fence_holds", "raise_fence"]


def raise_fence(session: Session, shard: int, token: int, worker: str) -> bool:
    """Store ``token`` as the shard's fence unless a higher one is stored; True if ours is the highest."""
    fence = session.scalar(select(ShardFence).where(ShardFence.shard == shard).with_for_update())
    if fence is None:
        session.add(ShardFence(shard=shard, token=token, worker=worker))
        session.flush()
        return True
    if fence.token > token:
        return False
    fence.token, fence.worker, fence.updated_at = token, worker, utcnow()
    session.flush()
    return True


def fence_holds(session: Session, shard: int, token: int) -> bool:
    """True if no owner with a later token than ``token`` has fenced ``shard`` (locks the fence row)."""
    stored = session.scalar(select(ShardFence.token).where(ShardFence.shard == shard).with_for_update())
    return stored is None or stored <= token
