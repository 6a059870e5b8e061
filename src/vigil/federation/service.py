"""The child's publisher: push the feed to the parent, resume after the parent's last sequence.

``push_once`` builds one batch (at most ``limit`` log entries), posts it, and stores the sequence the
parent answers with. A failed push changes nothing but the link's health (last error, error count):
the next push starts again from the last acknowledged sequence, so an outage loses nothing, and the
parent's sequence check means a retried batch is never applied twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from vigil.core.context import Vigil
from vigil.core.errors import NotReadyError
from vigil.core.models import utcnow
from vigil.federation.changes import prune
from vigil.federation.links import ShareRules, client_for, parent_link, peer_token
from vigil.federation.models import FedLink
from vigil.federation.publish import build_batch, pending_count
from vigil.registry.streams import redact_text

__all__ = ["FEED_GZIP", "FEED_PATH", "MAX_BATCH_BYTES", "PAGE", "encode_batch", "next_batch", "FederationService", "PushResult", "push_once", "push_until_idle"]

log = logging.getLogger(__name__)
FEED_PATH = "/federation/v1/feed"
MAX_BATCH_BYTES = 1_500_000  # the API refuses bodies over 2 MiB: the limit of a batch's gzipped body
FEED_GZIP = "application/gzip"  # a gzipped JSON batch (the parent inflates it under a cap, then checks it)
PAGE = 6000  # log entries per batch: fewer, larger pages cost less per entry (bench/federation.py)


@dataclass(frozen=True, slots=True)
class PushResult:
    """One push: entries sent, the parent's sequence, and how many log entries remain."""

    sent: int
    seq: int
    pending: int
    applied: bool


def encode_batch(batch: dict[str, Any]) -> bytes:
    """A batch as the gzipped JSON body of a feed request (level 1: a catalog page compresses about 10×)."""
    return gzip.compress(json.dumps(batch, separators=(",", ":")).encode(), compresslevel=1)


def next_batch(v: Vigil, limit: int, heartbeat: float
               ) -> tuple[FedLink, dict[str, Any], bytes, str] | None | Literal[False]:
    """The link, the batch, its body and the token; ``None`` without a parent, ``False`` with nothing to say."""
    with v.db.session() as s:
        link = parent_link(s)
        if link is None:
            return None
        rules = ShareRules(**(link.rules or {}))
        batch = build_batch(s, rules, link.seq, limit=limit)
        recent = link.last_contact is not None and (utcnow() - link.last_contact).total_seconds() < heartbeat
        if batch["last"] == batch["after"] and not link.hello_enc and recent and not link.last_error:
            return False
        if link.hello_enc:
            batch["hello"] = json.loads(v.box.open(link.hello_enc))
        body = encode_batch(batch)
        while limit > 1 and len(body) > MAX_BATCH_BYTES:  # under the parent's body limit
            limit //= 2
            batch = build_batch(s, rules, link.seq, limit=limit) | ({"hello": batch["hello"]} if "hello" in batch
                                                                     else {})
            body = encode_batch(batch)
        token = peer_token(link, v.box)
        s.expunge(link)
    return link, batch, body, token


def _record(v: Vigil, link_id: int, *, seq: int | None, error: str = "", hello_taken: bool = False) -> int:
    with v.db.session() as s:
        link = s.get(FedLink, link_id)
        if link is None:
            return 0
        if seq is not None:
            link.seq, link.last_contact, link.last_error = seq, utcnow(), ""
            prune(s, seq)  # the parent holds everything up to seq
            if hello_taken:
                link.hello_enc = None
        else:
            link.errors, link.last_error = link.errors + 1, error[:500]
        link.lag = pending_count(s, link.seq)
        return link.lag


_last_prune: dict[int, float] = {}


def _prune_unlinked(v: Vigil, every_s: float = 60.0) -> None:
    """Without a parent the log serves nobody: keep only its newest entry (checked once a minute)."""
    now = time.monotonic()
    if now - _last_prune.get(id(v), 0.0) < every_s:
        return
    _last_prune[id(v)] = now
    with v.db.session() as s:
        prune(s)


def push_once(v: Vigil, *, limit: int = PAGE, timeout: float = 30.0, heartbeat: float = 0.0) -> PushResult | None:
    """Push one batch to the parent (``None`` without a parent link); :class:`NotReadyError` if it is unreachable.

    With nothing new to publish, nothing is sent unless the last contact is ``heartbeat`` seconds old.
    """
    prepared = next_batch(v, limit, heartbeat)
    if prepared is None:
        _prune_unlinked(v)
        return None
    if prepared is False:
        return PushResult(0, -1, 0, False)
    link, batch, body, token = prepared
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": uuid.uuid4().hex,
               "Content-Type": FEED_GZIP}
    try:
        with client_for(link, timeout=timeout) as c:
            r = c.post(FEED_PATH, content=body, headers=headers)
        if r.status_code != 200:
            raise NotReadyError(f"parent answered {r.status_code}: {r.text[:200]}")
        ans = r.json()
    except (httpx.HTTPError, ValueError, NotReadyError) as exc:
        msg = redact_text(str(exc), (token,))
        _record(v, link.id, seq=None, error=msg)
        raise NotReadyError(f"parent {link.url} unreachable: {msg}") from None
    seq = int(ans["seq"])
    lag = _record(v, link.id, seq=seq, hello_taken="hello" in batch)
    return PushResult(len(batch["entries"]), seq, lag, bool(ans.get("applied")))


def push_until_idle(v: Vigil, *, limit: int = PAGE, max_rounds: int = 10_000) -> int:
    """Push until the parent has every entry; return the number of entries sent."""
    sent = 0
    for _ in range(max_rounds):
        res = push_once(v, limit=limit)
        if res is None:
            return sent
        sent += res.sent
        if res.pending == 0:
            return sent
    return sent


class FederationService:
    """Background publisher of ``vigil serve``: pushes whenever the log grows, backs off when the parent is down."""

    def __init__(self, vigil: Vigil, *, interval: float = 0.2, max_backoff: float = 2.0, limit: int = PAGE,
                 heartbeat: float = 10.0) -> None:
        self.vigil, self.interval, self.max_backoff, self.limit = vigil, interval, max_backoff, limit
        self.heartbeat = heartbeat
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="federation-publisher")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            try:
                res = await asyncio.to_thread(push_once, self.vigil, limit=self.limit, heartbeat=self.heartbeat)
                # no parent link: look for one at the back-off pace, not five times a second
                idle = self.max_backoff if res is None else self.interval
                delay = 0.0 if res is not None and res.pending > 0 else idle
            except NotReadyError as exc:
                log.warning("federation: %s", exc)
                delay = min(max(delay * 2, self.interval), self.max_backoff)
            except Exception:  # the publisher must outlive one bad round
                log.exception("federation publisher round failed")
                delay = self.max_backoff
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(delay, 0.01))
