"""``vigil worker``: own a share of the camera shards through leases and probe their cameras.

Every ``ttl/3`` seconds a worker renews its membership key (``member.<name>``) and its shard
leases (all at once), reads the live members, and reconciles: it releases the shards that
rendezvous hashing now gives to somebody else (so a newcomer gets them at once) and tries to
``create`` the shards it should own.

A dead worker is noticed by its heartbeats (:mod:`vigil.worker.liveness`), not by waiting for
its leases to expire: when a member has been silent for ``dead_after`` seconds, the round runs at
once, removes the member's key and takes each of its shards with a compare-and-swap on the
revision read (:meth:`~vigil.worker.lease.LeaseTable.take_over`); a shard whose holder is no
longer a member is taken the same way. Without heartbeats (a worker of an older release) a
shard becomes free when its lease expires, as before.

Every ``probe_interval`` seconds it probes the in-service cameras of its shards through its
:class:`~vigil.worker.pool.ProbePool`; the cameras of shards it has just won are probed at once,
ahead of the sweep under way. It publishes one :class:`~vigil.worker.bus.ProbeBatch` per shard as
soon as that shard's cameras are probed, each only after
:meth:`~vigil.worker.lease.LeaseTable.check` says the lease is still ours, carrying the lease's
fencing token. A publish that fails (NATS restarting) is retried with the same message id while
the lease lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.analytics.events import DatabaseSink, EventSink
from vigil.analytics.settings import CameraAnalytics
from vigil.analytics.worker import AnalyticsService
from vigil.core.context import Vigil
from vigil.core.errors import InputError, NotReadyError
from vigil.core.models import Camera, utcnow
from vigil.health.models import CameraStatus
from vigil.health.probe import ProbeResult
from vigil.health.recheck import call_diagnose, camera_targets
from vigil.registry.streams import in_service_population
from vigil.video.recorder import RecorderConfig
from vigil.worker.assign import DEFAULT_SHARDS, shard_of, shards_of
from vigil.worker.bus import SUBJECT, ProbeBatch, connect, ensure_stream
from vigil.worker.events import StoreThenNotify, StreamSink
from vigil.worker.fence import FencedOff, fence_holds, fenced_vigil, raise_fence
from vigil.worker.lease import Lease, LeaseTable, open_bucket
from vigil.worker.liveness import Heartbeats, dead_after, grace_after
from vigil.worker.pool import ProbePool, whole_groups
from vigil.worker.recording import ShardRecording

__all__ = ["Worker", "WorkerStats", "default_name"]

log = logging.getLogger("vigil.worker")
TARGETS_AT_ONCE = 1000  # cameras whose probe targets are read in one go (a sweep starts probing after the first)


def default_name() -> str:
    """``<host>-<pid>``: unique among the workers of a deployment."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerStats:
    """Counters for the status line and the tests."""

    sweeps: int = 0
    sampled: int = 0
    probed: int = 0
    published: int = 0
    fenced: int = 0
    publish_retries: int = 0
    acquired: int = 0
    taken_over: int = 0
    evicted: int = 0
    urgent: int = 0
    released: int = 0
    lost: int = 0
    last_error: str = ""
    owned: set[int] = field(default_factory=set)


class Worker:
    """A scale-out worker. The constructor only assigns; :meth:`start` connects and starts the loops."""

    def __init__(self, vigil: Vigil, *, nats_url: str, name: str | None = None, ttl: float = 9.0,
                 shards: int = DEFAULT_SHARDS, probe_interval: float = 30.0, concurrency: int = 200,
                 probe_timeout: float = 3.0, sample_interval: float = 0.0, recording: RecorderConfig | None = None,
                 media_host: str = "127.0.0.1", media_port: int = 0, analytics_streams: int = 0) -> None:
        self.vigil = vigil
        self.nats_url = nats_url
        self.name = name or default_name()
        self.ttl = ttl
        self.shards = shards
        self.probe_interval = probe_interval
        self.concurrency = concurrency
        self.probe_timeout = probe_timeout
        self.sample_interval = sample_interval
        self.recording = recording  # None: this worker does not record
        self.media_host, self.media_port = media_host, media_port
        self.analytics_streams = analytics_streams  # 0: no analytics on this worker
        self.services: list[Any] = []
        self.stats = WorkerStats()
        self.leases: dict[int, Lease] = {}
        self._member: Lease | None = None
        self._nc: Any = None
        self._js: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._table: LeaseTable | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bg: set[asyncio.Task[None]] = set()  # recorder syncs and hand-overs under way
        self._rec: ShardRecording | None = None
        self._hb: Heartbeats | None = None
        self._pool: ProbePool | None = None
        self._wake: asyncio.Event | None = None  # set: run a reconcile round now (a member went silent)
        self._members: set[str] = set()
        self._fenced: dict[int, Vigil] = {}  # per shard: the instance whose writes check the shard's fence
        self._seq = itertools.count(1)
        self._boot = int(utcnow().timestamp() * 1000)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._nc = await connect(self.nats_url, name=f"vigil-worker-{self.name}")
        self._js = self._nc.jetstream()
        self._table = LeaseTable(await open_bucket(self._js, ttl=self.ttl), self.name, ttl=self.ttl)
        await ensure_stream(self._js)
        dead = dead_after(self.ttl)
        self._hb = Heartbeats(self._nc, self.nats_url, self.name, every=dead / 4, dead_after=dead,
                              grace=grace_after(self.ttl))
        await self._hb.start()
        self._pool = ProbePool(concurrency=self.concurrency, timeout=self.probe_timeout)
        self._wake = asyncio.Event()
        self._tasks = [asyncio.create_task(self._leases_loop(), name="vigil-worker-leases"),
                       asyncio.create_task(self._probe_loop(), name="vigil-worker-probe"),
                       asyncio.create_task(self._deadline_loop(), name="vigil-worker-deadlines"),
                       asyncio.create_task(self._watch_loop(), name="vigil-worker-watch")]
        if self.sample_interval > 0:
            self._tasks.append(asyncio.create_task(self._sample_loop(), name="vigil-worker-vqd"))
        if self.recording is not None:
            rec = ShardRecording(self.vigil, node=self.name, keep=self.holds, cfg=self.recording,
                                 host=self.media_host, port=self.media_port, fence=self.fence_holds)
            await rec.start()
            self.services.append(rec)
            self._rec = rec
        if self.analytics_streams > 0:
            ana = AnalyticsService(self.vigil, max_streams=self.analytics_streams, mqtt="", keep=self.holds,
                                   sinks=self.event_sinks)
            await ana.start()
            self.services.append(ana)

    def event_sinks(self, job: CameraAnalytics) -> list[EventSink]:
        """The row in the database (no outbox) and the notification on the events stream, for the relay."""
        assert self._loop is not None, "the worker is not started"
        return [StoreThenNotify(DatabaseSink(self.camera_vigil(job.camera_id), job.region_code, webhooks=False),
                                StreamSink(self._js, self._loop, region_code=job.region_code))]

    def holds(self, camera_id: str) -> bool:
        """True while this worker holds the lease of the camera's shard and its local deadline has not passed."""
        lease = self.leases.get(shard_of(camera_id, self.shards))
        return lease is not None and lease.alive()

    def fence_holds(self, session: Session, camera_id: str) -> bool:
        """The gate of a segment row: our lease is alive and no later owner has fenced the shard."""
        return self._shard_holds(shard_of(camera_id, self.shards), session)

    def _shard_holds(self, shard: int, session: Session) -> bool:
        lease = self.leases.get(shard)
        return lease is not None and lease.alive() and fence_holds(session, shard, lease.token)

    def camera_vigil(self, camera_id: str) -> Vigil:
        """The instance for the camera's writes: each transaction first checks the lease and fence of its shard.

        A write after a later owner raised the fence raises :class:`~vigil.worker.fence.FencedOff`.
        """
        shard = shard_of(camera_id, self.shards)
        v = self._fenced.get(shard)
        if v is None:
            v = self._fenced[shard] = fenced_vigil(self.vigil, functools.partial(self._shard_holds, shard))
        return v

    def _follow(self) -> None:
        """The shards held changed: the recorder starts and stops cameras now (in the background)."""
        if self._rec is not None:
            self._spawn(self._rec.follow())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def _drop(self, shard: int, lease: Lease) -> None:
        """``lease`` is lost (not renewed, fenced, expired): stop everything written for its shard."""
        if self.leases.get(shard) is lease:
            del self.leases[shard]
            self.stats.lost += 1
            self._follow()

    async def _hand_over(self, lease: Lease) -> None:
        """Give a shard away: its cameras' last segments are indexed under our fence, then the key goes."""
        assert self._table is not None
        if self._rec is not None:
            with contextlib.suppress(Exception):
                await self._rec.follow()
        await self._table.release(lease)

    def _raise_fences(self, won: dict[int, Lease]) -> None:
        with self.vigil.db.session() as s:
            for shard, lease in won.items():
                if not raise_fence(s, shard, lease.token, self.name):
                    log.warning("worker %s: shard %d is fenced above token %d", self.name, shard, lease.token)

    async def stop(self) -> None:
        """Stop recording and the loops, then give the leases back, so the other workers take over at once."""
        for svc in reversed(self.services):
            with contextlib.suppress(Exception):
                await svc.stop()
        self.services = []
        for t in [*self._tasks, *self._bg]:
            t.cancel()
        for t in [*self._tasks, *self._bg]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks, self._rec = [], None
        for part in (self._pool, self._hb):
            if part is not None:
                with contextlib.suppress(Exception):
                    await part.stop()
        if self._table is not None:
            for lease in [*self.leases.values(), *([self._member] if self._member else [])]:
                with contextlib.suppress(Exception):
                    await self._table.release(lease)
        self.leases.clear()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # ---------------------------------------------------------------- leases

    async def _leases_loop(self) -> None:
        """A round every TTL/3; a woken round in between (a member went silent) skips the renewals."""
        assert self._table is not None and self._wake is not None
        loop = asyncio.get_running_loop()
        due = 0.0  # when the next round with renewals is due
        while True:
            renew = loop.time() >= due
            if renew:
                due = loop.time() + self._table.renew_every
            try:
                await self.reconcile(renew=renew)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away: leases run out on their own deadline
                self.stats.last_error = f"leases: {type(exc).__name__}: {exc}"
                log.warning("worker %s: %s", self.name, self.stats.last_error)
            self.stats.owned = set(self.leases)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, due - loop.time()))
            self._wake.clear()

    async def _watch_loop(self) -> None:
        """Run a round at once when a member goes silent (killed), instead of waiting for its leases to expire."""
        assert self._hb is not None and self._wake is not None
        while True:
            await asyncio.sleep(min(0.25, self._hb.every))
            if self._hb.liveness.silent(self._members):
                self._wake.set()

    async def _deadline_loop(self) -> None:
        """Drop a lease the moment its local deadline passes (a renewal late or failing, NATS away)."""
        while True:
            await asyncio.sleep(min(0.5, self.ttl / 6))
            for s, lease in list(self.leases.items()):
                if not lease.alive():
                    log.warning("worker %s: lease of shard %d ran out; stopping its work", self.name, s)
                    self._drop(s, lease)

    async def reconcile(self, *, renew: bool = True) -> None:
        """One round: renew, read the members, release what moved away, take what is ours.

        ``renew=False`` (a round woken by a silent member): no renewals, and the members of the
        last round stand in for a fresh read; only the silent ones are read again, to evict them.
        """
        t = self._table
        assert t is not None
        held = list(self.leases.items()) if renew else []
        member = self._member

        async def keep_member() -> bool:
            return member is not None and (not renew or await t.renew(member))

        async def read_members() -> dict[str, int] | None:
            return await t.revisions("member.") if renew or not self._members else None

        member_ok, revisions, renewed = await asyncio.gather(
            keep_member(), read_members(), asyncio.gather(*(t.renew(lease) for _, lease in held)))
        if not member_ok:
            self._member = await t.acquire(f"member.{self.name}")
        for (s, lease), ok in zip(held, renewed, strict=True):
            if not ok:  # a fenced publish may have dropped it meanwhile
                self._drop(s, lease)
        members = await self._live_members(revisions)
        self._members = set(members)
        if self._member is None:  # not a member: own nothing rather than something twice
            members.discard(self.name)
            want: set[int] = set()
        else:
            want = shards_of(self.name, members, self.shards)
        for s in sorted(set(self.leases) - want):
            gone = self.leases.pop(s, None)
            if gone is not None:
                if self._rec is not None:
                    self._spawn(self._hand_over(gone))
                else:
                    await t.release(gone)
                self.stats.released += 1
        won: dict[int, Lease] = {}
        claims = sorted(want - set(self.leases))
        for s, got in zip(claims, await asyncio.gather(*(self._claim(s, members) for s in claims)), strict=True):
            if got is not None and s not in self.leases:
                self.leases[s] = won[s] = got
                self.stats.acquired += 1
        if won and self._pool is not None:
            self._spawn(self.sweep_once(set(won), urgent=True))
        if won:
            try:  # a stale owner's samples, events and segment rows are refused from now on
                await asyncio.to_thread(self._raise_fences, won)
            except Exception as exc:  # the database away: the writer raises the fence with our first batch
                log.warning("worker %s: raising the fences of %d shard(s): %s", self.name, len(won), exc)
            self._follow()

    async def _live_members(self, revisions: dict[str, int] | None) -> set[str]:
        """The members (``member.<name>`` keys at their revisions), less the silent ones whose key we removed.

        ``revisions`` None: the last round's members, revisions unknown (0).
        """
        t = self._table
        assert t is not None
        members: dict[str, int] = (dict.fromkeys(self._members, 0) if revisions is None else
                                   {k.removeprefix("member."): rev for k, rev in revisions.items()})
        if self._member is not None:
            members[self.name] = self._member.revision
        hb = self._hb
        if hb is None:
            return set(members)
        silent = sorted(hb.liveness.silent(members))
        gone = await asyncio.gather(*(self._evict(m, members[m]) for m in silent))
        for m, evicted in zip(silent, gone, strict=True):
            if evicted:  # else it renewed meanwhile: alive after all
                log.warning("worker %s: worker %s is silent (unheard for %.1f s); taking over its shards", self.name,
                            m, hb.liveness.unheard_for(m))
                del members[m]
                self.stats.evicted += 1
        return set(members)

    async def _evict(self, member: str, revision: int) -> bool:
        """Remove a silent member's key at ``revision`` (0: read it first); True if it is gone now."""
        t = self._table
        assert t is not None
        if not revision:
            h = await t.holder(f"member.{member}")
            if h is None:
                return True  # expired, or another survivor removed it
            revision = h.revision
        return await t.evict(f"member.{member}", revision)

    async def _claim(self, shard: int, members: set[str]) -> Lease | None:
        """Take ``shard``: free (``create``), or held by a silent non-member or by a stale lease of ours (swap)."""
        t = self._table
        assert t is not None
        key = f"shard.{shard}"
        h = await t.holder(key)
        if h is None:
            return await t.acquire(key)
        dead = self._hb is not None and h.owner not in members and h.owner in self._hb.liveness.silent({h.owner})
        if not dead and h.owner != self.name:
            return None  # a member holds it (it releases it to us), or one we cannot judge: its TTL ends it
        got = await t.take_over(key, h)  # a dead worker's, or a stale one of ours (a renewal came too late)
        if got is not None:
            self.stats.taken_over += 1
        return got

    # ---------------------------------------------------------------- probing

    def _camera_ids(self) -> list[str]:
        q = select(Camera.id).where(in_service_population(None), (Camera.main_url != "") | (Camera.sub_url != ""))
        with self.vigil.db.session() as s:
            return sorted(s.scalars(q))

    async def _probe_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: the next sweep retries
                self.stats.last_error = f"sweep: {type(exc).__name__}: {exc}"
                log.warning("worker %s: %s", self.name, self.stats.last_error)
            await asyncio.sleep(max(0.05, self.probe_interval - (loop.time() - t0)))

    async def sweep_once(self, only: set[int] | None = None, *, urgent: bool = False) -> int:
        """Probe the cameras of the shards held now (of ``only``) and publish each shard's results; return cameras.

        ``urgent``: shards just won; their cameras go ahead of the sweep under way.
        """
        if self._pool is None:
            self._pool = ProbePool(concurrency=self.concurrency, timeout=self.probe_timeout)
        owned = {s: lease for s, lease in self.leases.items() if only is None or s in only}
        if not owned:
            return 0
        loop = asyncio.get_running_loop()
        t0, ts = loop.time(), utcnow()
        ids = await asyncio.to_thread(self._camera_ids)

        def group_of(camera_id: str) -> int:
            return shard_of(camera_id, self.shards)

        async def publish(shard: int, results: list[ProbeResult]) -> None:
            await self._publish(owned[shard], shard, results, ts)

        runs: list[asyncio.Task[int]] = []
        first = 0.0
        try:  # the first shards are probed while the targets of the next ones are read
            for chunk in whole_groups([c for c in ids if group_of(c) in owned], group_of, size=TARGETS_AT_ONCE):
                targets = await asyncio.to_thread(camera_targets, self.vigil, chunk)
                first = first or loop.time() - t0
                runs.append(asyncio.create_task(self._pool.run(targets, group_of=group_of, publish=publish,
                                                               urgent=urgent)))
            n = sum(await asyncio.gather(*runs))
        finally:
            for r in runs:
                r.cancel()
        self.stats.probed += n
        if urgent:
            self.stats.urgent += n
            log.warning("worker %s: %d camera(s) of %d shard(s) just won probed first: the first targets read in "
                        "%.1f s, all probed and published in %.1f s", self.name, n, len(owned), first,
                        loop.time() - t0)
        else:
            self.stats.sweeps += 1
        return n

    def _online_ids(self) -> list[str]:
        q = (select(Camera.id).join(CameraStatus, CameraStatus.camera_id == Camera.id)
             .where(in_service_population(None), CameraStatus.state == "online"))
        with self.vigil.db.session() as s:
            return sorted(s.scalars(q))

    async def _sample_loop(self) -> None:
        """Picture samples (VQD) of the online cameras of our shards, one at a time (decoding is CPU work)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.sample_interval  # the first cycle after one interval: probes come first
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due + self.sample_interval, loop.time())
            try:
                await self.sample_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.last_error = f"sample: {type(exc).__name__}: {exc}"
                log.warning("worker %s: %s", self.name, self.stats.last_error)

    async def sample_once(self) -> int:
        """Diagnose the picture of each online camera whose shard is still ours; return cameras sampled.

        The lease is checked right before each sample, which stores through the health package in
        transactions fenced by the shard (a later owner's fence refuses it: :class:`FencedOff`).
        """
        assert self._table is not None
        n = 0
        for cid in await asyncio.to_thread(self._online_ids):
            lease = self.leases.get(shard_of(cid, self.shards))
            if lease is None or not await self._table.check(lease):
                if lease is not None:
                    self._drop(shard_of(cid, self.shards), lease)
                continue
            try:
                await call_diagnose(self.camera_vigil(cid), cid)
                n += 1
            except FencedOff:  # a later owner took the shard while we sampled: nothing stored
                self.stats.fenced += 1
                self._drop(shard_of(cid, self.shards), lease)
            except (NotReadyError, InputError) as exc:  # an outage or no stream: the probe reports it
                log.info("worker %s: VQD sample of %s: %s", self.name, cid, exc)
        self.stats.sampled += n
        return n

    async def _publish(self, lease: Lease, shard: int, results: Sequence[ProbeResult], ts: Any) -> None:
        assert self._table is not None
        batch = ProbeBatch(f"{self.name}.{self._boot}.{shard}.{lease.token}.{next(self._seq)}", shard, lease.token,
                           self.name, ts, tuple((r.key, r.ok, r.reason, round(r.ms, 2)) for r in results))
        data = batch.encode()
        while True:
            try:
                if not await self._table.check(lease):  # lost the shard: stop writing for it
                    self.stats.fenced += 1
                    self._drop(shard, lease)
                    return
                await self._js.publish(f"{SUBJECT}.{shard}", data, timeout=2.0,
                                       headers={"Nats-Msg-Id": batch.msg_id})
                self.stats.published += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not connected, no ack: the same id again, deduped by the stream
                self.stats.publish_retries += 1
                self.stats.last_error = f"publish: {type(exc).__name__}: {exc}"
                if not lease.alive():
                    return
                await asyncio.sleep(0.5)
