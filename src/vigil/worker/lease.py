"""Leases in a JetStream key-value bucket: shard ownership, worker membership and the scheduler leader.

A lease is a key written with ``create`` (fails if anybody holds it) and kept with ``update``
against the revision of our own last write, every third of the bucket's TTL. The bucket's
``max_age`` is the TTL: a holder that stops renewing (killed, partitioned) loses the key when it
expires, and somebody else's ``create`` succeeds.

The **fencing token** of a lease is the KV revision of the ``create`` that won it. Revisions only
grow in a bucket, so a later holder always has a larger token than every earlier one. Holders
check :meth:`LeaseTable.check` before each write (the key's revision is still our last write and
our local deadline has not passed), and consumers that store the writes reject any token lower
than the highest they have seen for that key (:mod:`vigil.worker.writer`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from nats.js.api import KeyValueConfig
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

__all__ = ["MAX_TTL", "Holder", "Lease", "LeaseTable", "open_bucket"]

MAX_TTL = 15.0
BUCKET = "vigil-leases"
_WRONG_LAST = 10071  # JetStream's "wrong last sequence": a delete against a moved revision answers it as a 400


def _moved(exc: BadRequestError) -> bool:
    return getattr(exc, "err_code", None) == _WRONG_LAST


@dataclass(slots=True)
class Lease:
    """A key we hold: ``token`` fences our writes; ``revision`` is our last write; ``deadline`` is monotonic."""

    key: str
    token: int
    revision: int
    deadline: float

    def alive(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.deadline


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a key now, and the fencing token they hold it with."""

    owner: str
    token: int
    revision: int


async def open_bucket(js: Any, *, ttl: float, bucket: str = BUCKET) -> KeyValue:
    """The lease bucket (created on first use) with a TTL of ``ttl`` seconds (at most :data:`MAX_TTL`)."""
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"lease TTL must be in (0, {MAX_TTL:.0f}] seconds")
    return await js.create_key_value(KeyValueConfig(bucket=bucket, ttl=ttl, history=1))


class LeaseTable:
    """Acquire, renew, check and release leases held by ``owner`` in one bucket."""

    def __init__(self, kv: KeyValue, owner: str, *, ttl: float) -> None:
        self.kv = kv
        self.owner = owner
        self.ttl = ttl

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    def _value(self, token: int) -> bytes:
        return json.dumps({"owner": self.owner, "token": token}).encode()

    async def acquire(self, key: str) -> Lease | None:
        """Take ``key`` if nobody holds it; ``None`` if somebody does."""
        t0 = time.monotonic()
        try:
            rev = await self.kv.create(key, self._value(0))
        except (KeyWrongLastSequenceError, KeyNotFoundError):  # held, or expiring under our feet: next round
            return None
        # the value says token 0 until our first renewal: readers take the revision, which is the token
        return Lease(key, rev, rev, t0 + self.ttl)

    async def take_over(self, key: str, holder: Holder) -> Lease | None:
        """Take ``key`` from a ``holder`` known to be dead, before its TTL runs out; ``None`` if it moved on.

        A compare-and-swap on the revision ``holder`` was read at: if the holder renewed meanwhile
        (it is alive after all) the update fails and nothing changes. The new token is the revision
        of this update, above every earlier one, so the former holder's writes are fenced off.
        """
        t0 = time.monotonic()
        try:
            rev = await self.kv.update(key, self._value(0), last=holder.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            return None
        return Lease(key, rev, rev, t0 + self.ttl)

    async def evict(self, key: str, revision: int) -> bool:
        """Delete ``key`` if it is still at ``revision`` (a dead member's key); True if deleted."""
        try:
            await self.kv.delete(key, last=revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            return False
        except BadRequestError as exc:
            if _moved(exc):
                return False
            raise
        return True

    async def renew(self, lease: Lease) -> bool:
        """Extend ``lease``; False (and the lease is dead) if its key moved on without us."""
        t0 = time.monotonic()
        if not lease.alive(t0):
            return False
        try:
            lease.revision = await self.kv.update(lease.key, self._value(lease.token), last=lease.revision)
        except KeyWrongLastSequenceError:
            lease.deadline = 0.0
            return False
        lease.deadline = t0 + self.ttl
        return True

    async def check(self, lease: Lease) -> bool:
        """True if ``lease`` is still ours right now: the gate in front of every write path."""
        if not lease.alive():
            return False
        h = await self.holder(lease.key)
        ok = h is not None and h.revision == lease.revision and h.token == lease.token
        if not ok:
            lease.deadline = 0.0
        return ok

    async def release(self, lease: Lease) -> None:
        """Give ``lease`` up at once (if it is still ours), so the next owner need not wait for the TTL."""
        alive, lease.deadline = lease.alive(), 0.0
        if alive:
            try:
                await self.kv.delete(lease.key, last=lease.revision)
            except KeyWrongLastSequenceError:
                pass
            except BadRequestError as exc:  # somebody took it meanwhile: nothing of ours to give up
                if not _moved(exc):
                    raise

    async def holder(self, key: str) -> Holder | None:
        """The current holder of ``key``, or ``None`` when it is free."""
        try:
            e = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        if not e.value:
            return None
        try:
            v = json.loads(e.value)
            return Holder(str(v["owner"]), int(v["token"]) or int(e.revision or 0), int(e.revision or 0))
        except (ValueError, KeyError, TypeError):
            return None

    async def keys(self, prefix: str) -> list[str]:
        """The live keys under ``prefix`` (e.g. ``member.``)."""
        return sorted(await self.revisions(prefix))

    async def revisions(self, prefix: str) -> dict[str, int]:
        """The live keys under ``prefix`` with the revision of each one's last write."""
        watcher = await self.kv.watch(prefix + ">", ignore_deletes=True, meta_only=True)
        out: dict[str, int] = {}
        try:
            async for entry in watcher:
                if not entry:  # the end of the current values
                    break
                if entry.key.startswith(prefix):
                    out[entry.key] = int(entry.revision or 0)
        finally:
            await watcher.stop()
        return out
