"""The JetStream side of scale-out: connecting, the probe-results stream, and publishing with retries.

Workers publish one message per shard and sweep to ``vigil.probe.<shard>`` on the file-backed
stream :data:`STREAM`; each carries a message id (``Nats-Msg-Id``), so a publish retried after a
lost acknowledgement is stored once, and the writer dedupes again by that id in the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from vigil.core.errors import NotReadyError

__all__ = ["STREAM", "SUBJECT", "ProbeBatch", "connect", "ensure_stream", "writer_consumer"]

STREAM = "VIGIL_PROBES"
SUBJECT = "vigil.probe"
DURABLE = "vigil-writer"
log = logging.getLogger("vigil.worker.bus")


@dataclass(frozen=True, slots=True)
class ProbeBatch:
    """One shard's probe samples from one sweep: ``results`` rows are ``(camera, ok, reason, ms)``."""

    msg_id: str
    shard: int
    token: int
    worker: str
    ts: datetime
    results: tuple[tuple[str, bool, str, float], ...]

    def encode(self) -> bytes:
        return json.dumps({"id": self.msg_id, "shard": self.shard, "token": self.token, "worker": self.worker,
                           "ts": self.ts.isoformat(), "results": [list(r) for r in self.results]}).encode()

    @classmethod
    def decode(cls, data: bytes) -> ProbeBatch:
        """A batch from its JSON; raises ``ValueError`` (or ``KeyError``/``TypeError``) when malformed."""
        v = json.loads(data)
        rows = tuple((str(c), bool(ok), str(reason), float(ms)) for c, ok, reason, ms in v["results"])
        return cls(str(v["id"]), int(v["shard"]), int(v["token"]), str(v["worker"]),
                   datetime.fromisoformat(v["ts"]), rows)


async def _error(exc: Exception) -> None:
    log.warning("nats: %s: %s", type(exc).__name__, exc)  # one line, never a traceback


async def _disconnected() -> None:
    log.warning("nats: disconnected; reconnecting")


async def _reconnected() -> None:
    log.warning("nats: reconnected")


async def connect(url: str, *, name: str, first_within: float = 10.0) -> Any:
    """A NATS connection that reconnects forever once up (a restarted server is a pause, not an error).

    Raises :class:`NotReadyError` when the server cannot be reached within ``first_within`` seconds.
    """
    try:
        async with asyncio.timeout(first_within):
            return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                      connect_timeout=2, allow_reconnect=True, error_cb=_error,
                                      disconnected_cb=_disconnected, reconnected_cb=_reconnected)
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        where = url.rsplit("@", 1)[-1]  # never the user:password part
        raise NotReadyError(f"cannot reach the NATS server at {where} ({type(exc).__name__})") from None


async def ensure_stream(js: Any, *, max_age_s: float = 86400.0) -> None:
    """Create (or keep) the file-backed probe-results stream."""
    await js.add_stream(StreamConfig(name=STREAM, subjects=[f"{SUBJECT}.>"], storage=StorageType.FILE,
                                     max_age=max_age_s, duplicate_window=120.0))


async def writer_consumer(js: Any) -> Any:
    """The durable pull consumer of the writer (explicit acks; redelivered after 30 s without one)."""
    return await js.pull_subscribe(f"{SUBJECT}.>", durable=DURABLE, stream=STREAM,
                                   config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0,
                                                         max_ack_pending=10_000))
