"""Fencing at storage: a write made under a lease that a later holder has fenced off is refused.

Every lease has a fencing token (the KV revision that won it, :mod:`vigil.worker.lease`). The
highest token stored for a shard (:class:`~vigil.worker.models.ShardFence`) is raised by the
owner as soon as it wins the shard (:func:`raise_fence`) and by the writer with each probe batch
it accepts; the elected scheduler raises the row :data:`SCHEDULER_FENCE` when it is elected.

Every other write a lease holder makes goes through :func:`fenced_vigil`: the instance with a
database whose every transaction first checks its fence (:func:`fence_holds`, which locks the
fence row until the commit, so a successor's :func:`raise_fence` waits for it) and raises
:class:`FencedOff` instead of writing when a later holder has raised it. A worker's VQD samples
(``CameraStatus.faults``, ``QualityChange``, the baseline), its analytics events and queue
minutes, and its segment rows are fenced this way by their camera's shard; the scheduler's writer,
relay, housekeeping and time-series upkeep by :data:`SCHEDULER_FENCE`. A worker paused past its
lease, or a scheduler taken for dead, therefore cannot overwrite its successor.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.core.context import Vigil
from vigil.core.db import Database
from vigil.core.errors import ConflictError
from vigil.core.models import utcnow
from vigil.worker.models import ShardFence

__all__ = ["SCHEDULER_FENCE", "FencedDatabase", "FencedOff", "fence_holds", "fenced_vigil", "raise_fence"]

#: the fence row of the scheduler's leadership (shards are numbered from 0)
SCHEDULER_FENCE = -1

Gate = Callable[[Session], bool]


class FencedOff(ConflictError):
    """A write refused: a later holder of the lease it was made under has fenced it off."""


def raise_fence(session: Session, shard: int, token: int, worker: str) -> bool:
    """Store ``token`` as the shard's fence unless a higher one is stored; True if ours is the highest."""
    q = select(ShardFence).where(ShardFence.shard == shard).with_for_update()
    fence = session.scalar(q)
    if fence is None:
        try:
            with session.begin_nested():  # another holder may insert the first row at the same moment
                session.add(ShardFence(shard=shard, token=token, worker=worker))
            return True
        except IntegrityError:  # it did: compare with theirs
            fence = session.scalar(q)
            assert fence is not None
    if fence.token > token:
        return False
    fence.token, fence.worker, fence.updated_at = token, worker, utcnow()
    session.flush()
    return True


def fence_holds(session: Session, shard: int, token: int) -> bool:
    """True if no holder with a later token than ``token`` has fenced ``shard``.

    The fence row stays locked (shared) until the transaction ends: a successor's
    :func:`raise_fence` waits for our commit, so what we write lands before its fence.
    """
    stored = session.scalar(select(ShardFence.token).where(ShardFence.shard == shard)
                            .with_for_update(read=True))
    return stored is None or stored <= token


class FencedDatabase(Database):
    """``db`` (the same engine and session factories) whose every write transaction passes ``gate`` first."""

    def __init__(self, db: Database, gate: Gate) -> None:
        vars(self).update(vars(db))  # the same engine, pool and session factories: nothing is built
        self.gate = gate

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that checks the fence before anything else; :class:`FencedOff` if it is raised above us."""
        with super().session() as s:
            if not self.gate(s):
                raise FencedOff("a later lease holder has fenced this write off")
            yield s


def fenced_vigil(vigil: Vigil, gate: Gate) -> Vigil:
    """``vigil`` whose database sessions pass ``gate`` (e.g. :func:`fence_holds` of a lease) before they write."""
    v = copy.copy(vigil)  # the same settings and credential box
    vars(v)["db"] = FencedDatabase(vigil.db, gate)
    return v
