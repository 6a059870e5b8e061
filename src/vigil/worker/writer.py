"""The writer: consume probe batches from JetStream and fold them into the database, idempotently.

Delivery is at least once (a message whose ack was lost comes back), so each batch is stored in
one transaction together with its message id in :class:`WorkerInbox`; a message whose id is
already there is acknowledged and skipped. A batch whose fencing token is lower than the highest
stored for its shard (:class:`ShardFence`) comes from a worker that lost its lease and is
refused. The debounce (:func:`vigil.health.state.apply_results`) runs here, so the state changes
are the same as in a single process, whichever worker probed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.core.context import Vigil
from vigil.core.models import utcnow
from vigil.core.periodic import Periodic
from vigil.health.probe import ProbeResult
from vigil.health.state import StateChange, apply_results
from vigil.worker.bus import ProbeBatch, writer_consumer
from vigil.worker.models import ShardFence, WorkerInbox

__all__ = ["StoreReport", "Writer", "store_batches"]

log = logging.getLogger("vigil.worker.writer")


@dataclass
class StoreReport:
    """What one call of :func:`store_batches` did."""

    stored: int = 0
    duplicates: int = 0
    fenced: int = 0
    changes: list[StateChange] = field(default_factory=list)


def _results(batch: ProbeBatch) -> list[ProbeResult]:
    return [ProbeResult(cid, "", "online" if ok else "down", "" if ok else reason, ms)
            for cid, ok, reason, ms in batch.results]


def store_batches(session: Session, batches: Sequence[ProbeBatch]) -> StoreReport:
    """Apply ``batches`` in ``session``; duplicates and fenced-off batches are skipped.

    The accepted batches are applied in order of their sample time, one debounce pass per
    distinct time (a sweep's batches share one), so a fetch of hundreds costs a few statements.
    """
    rep = StoreReport()
    ids = [b.msg_id for b in batches]
    seen = set(session.scalars(select(WorkerInbox.msg_id).where(WorkerInbox.msg_id.in_(ids))))
    fences = {f.shard: f for f in session.scalars(select(ShardFence).where(
        ShardFence.shard.in_({b.shard for b in batches})).with_for_update())}
    accepted: list[ProbeBatch] = []
    for b in batches:
        if b.msg_id in seen:
            rep.duplicates += 1
            continue
        seen.add(b.msg_id)
        session.add(WorkerInbox(msg_id=b.msg_id))
        fence = fences.get(b.shard)
        if fence is not None and b.token < fence.token:
            rep.fenced += 1  # a worker that lost this shard wrote after the new owner: not stored
            continue
        if fence is None:
            fence = fences[b.shard] = ShardFence(shard=b.shard, token=b.token, worker=b.worker)
            session.add(fence)
        fence.token, fence.worker, fence.updated_at = b.token, b.worker, utcnow()
        accepted.append(b)
    session.flush()
    by_ts: dict[datetime, list[ProbeResult]] = {}
    for b in sorted(accepted, key=lambda b: b.ts):
        by_ts.setdefault(b.ts, []).extend(_results(b))
    for ts, results in by_ts.items():
        rep.changes += apply_results(session, results, now=ts)
    rep.stored = len(accepted)
    return rep


def prune_inbox(session: Session, *, older_than: timedelta) -> int:
    """Forget message ids older than the stream keeps messages (they can no longer be redelivered)."""
    res = session.execute(delete(WorkerInbox).where(WorkerInbox.stored_at < utcnow() - older_than))
    return int(getattr(res, "rowcount", 0) or 0)


class Writer:
    """Pulls batches from the durable consumer, stores them, then acks: a crash before the ack redelivers.

    ``gate`` (e.g. the scheduler's leader lease check) is awaited before each commit: a writer
    that is no longer the leader stops writing and leaves the messages to the next one.
    """

    def __init__(self, vigil: Vigil, js: object, *, gate: Callable[[], Awaitable[bool]] | None = None,
                 batch: int = 256, inbox_days: float = 2.0) -> None:
        self.vigil = vigil
        self.js = js
        self.gate = gate
        self.batch = batch
        self.inbox_days = inbox_days
        self.totals = StoreReport()
        self._sub: object | None = None
        self._last_prune = 0.0
        self._loop = Periodic(self._pass, interval=0, name="vigil-worker-writer", on_error=self._lost, retry=0.5)

    async def start(self) -> None:
        """Start pulling on the running event loop."""
        self._sub = None
        await self._loop.start()

    async def stop(self) -> None:
        """Stop pulling and wait for the fetch in progress (unacked messages come back later)."""
        await self._loop.stop()

    async def _pass(self) -> None:
        """One fetch (it waits up to a second for messages), then the inbox pruning every ten minutes."""
        if self._sub is None:
            self._sub = await writer_consumer(self.js)
        await self._once(self._sub)
        if time.monotonic() - self._last_prune > 600:
            await asyncio.to_thread(self._prune)
            self._last_prune = time.monotonic()

    def _lost(self, exc: Exception) -> None:
        """NATS restarting, the database away: subscribe again and retry, never give up."""
        log.warning("writer: %s: %s", type(exc).__name__, exc)
        self._sub = None

    def _prune(self) -> None:
        with self.vigil.db.session() as s:
            prune_inbox(s, older_than=timedelta(days=self.inbox_days))

    async def _once(self, sub: object) -> None:
        try:
            msgs = await sub.fetch(self.batch, timeout=1.0)  # type: ignore[attr-defined]
        except TimeoutError:
            return
        good, batches = [], []
        for m in msgs:
            try:
                batches.append(ProbeBatch.decode(m.data))
                good.append(m)
            except (ValueError, KeyError, TypeError):
                log.warning("writer: dropping a malformed message on %s", m.subject)
                await m.term()
        if self.gate is not None and not await self.gate():
            for m in good:
                await m.nak()
            return
        rep = await asyncio.to_thread(self._store, batches)
        for m in good:
            await m.ack()
        self.totals.stored += rep.stored
        self.totals.duplicates += rep.duplicates
        self.totals.fenced += rep.fenced
        self.totals.changes += rep.changes[-100:]
        del self.totals.changes[:-100]

    def _store(self, batches: list[ProbeBatch]) -> StoreReport:
        with self.vigil.db.session() as s:
            return store_batches(s, batches)
