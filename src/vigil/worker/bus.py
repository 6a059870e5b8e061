"""The JetStream side of scale-out: connecting, the probe-results and events streams, publishing with retries.

Workers publish one message per shard and sweep to ``vigil.probe.<shard>`` on the file-backed
stream :data:`STREAM`; each carries a message id (``Nats-Msg-Id``), so a publish retried after a
lost acknowledgement is stored once, and the writer dedupes again by that id in the database.

Notifications (an analytics event's start and end, made on a worker) go to ``vigil.event.<event>``
on the file-backed stream :data:`EVENTS_STREAM` as :class:`Note` messages, with the note's id as
``Nats-Msg-Id``; the elected relay (:mod:`vigil.notify.relay`) reads them through the durable
consumer :data:`RELAY_DURABLE` and sends the webhooks and MQTT messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import nats
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from vigil.core.errors import NotReadyError

__all__ = ["EVENTS_STREAM", "EVENTS_SUBJECT", "STREAM", "SUBJECT", "Note", "ProbeBatch", "connect",
           "ensure_stream", "publish_note", "relay_consumer", "writer_consumer"]

STREAM = "VIGIL_PROBES"
SUBJECT = "vigil.probe"
DURABLE = "vigil-writer"
EVENTS_STREAM = "VIGIL_EVENTS"
EVENTS_SUBJECT = "vigil.event"
RELAY_DURABLE = "vigil-relay"
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


@dataclass(frozen=True, slots=True)
class Note:
    """A notification on the events stream: ``event`` (``event.motion.start``...) about ``region_code``.

    ``msg_id`` is unique per notification (an analytics event's ``<uid>.<phase>``): the stream and
    the relay dedupe by it. ``data`` is the webhook's ``data`` (for an analytics event, its ``to_json``).
    """

    msg_id: str
    event: str
    region_code: str
    ts: datetime
    data: dict[str, Any]

    @property
    def subject(self) -> str:
        return f"{EVENTS_SUBJECT}.{self.event}"

    def encode(self) -> bytes:
        return json.dumps({"id": self.msg_id, "event": self.event, "region_code": self.region_code,
                           "ts": self.ts.isoformat(), "data": self.data}, ensure_ascii=False, default=str).encode()

    @classmethod
    def decode(cls, data: bytes) -> Note:
        """A note from its JSON; raises ``ValueError`` (or ``KeyError``/``TypeError``) when malformed."""
        v = json.loads(data)
        if not isinstance(v["data"], dict):
            raise TypeError("a note's data must be an object")
        return cls(str(v["id"]), str(v["event"]), str(v["region_code"]), datetime.fromisoformat(v["ts"]),
                   cast(dict[str, Any], v["data"]))


async def publish_note(js: Any, note: Note, *, within: float = 30.0) -> None:
    """Publish ``note`` until the stream acknowledges it (retrying with the same id while NATS restarts).

    Raises :class:`NotReadyError` when no acknowledgement came within ``within`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    data, headers = note.encode(), {"Nats-Msg-Id": note.msg_id}
    while True:
        try:
            await js.publish(note.subject, data, timeout=2.0, headers=headers)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # not connected, no ack: the same id again, deduped by the stream
            if loop.time() >= deadline:
                raise NotReadyError(f"the events stream did not acknowledge {note.event} "
                                    f"({type(exc).__name__})") from None
            await asyncio.sleep(0.5)


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
    """Create (or keep) the file-backed probe-results and events streams."""
    await js.add_stream(StreamConfig(name=STREAM, subjects=[f"{SUBJECT}.>"], storage=StorageType.FILE,
                                     max_age=max_age_s, duplicate_window=120.0))
    await js.add_stream(StreamConfig(name=EVENTS_STREAM, subjects=[f"{EVENTS_SUBJECT}.>"],
                                     storage=StorageType.FILE, max_age=max_age_s, duplicate_window=120.0))


async def writer_consumer(js: Any) -> Any:
    """The durable pull consumer of the writer (explicit acks; redelivered after 30 s without one)."""
    return await js.pull_subscribe(f"{SUBJECT}.>", durable=DURABLE, stream=STREAM,
                                   config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0,
                                                         max_ack_pending=10_000))


async def relay_consumer(js: Any) -> Any:
    """The durable pull consumer of the relay (explicit acks): a restarted relay resumes where it stopped."""
    return await js.pull_subscribe(f"{EVENTS_SUBJECT}.>", durable=RELAY_DURABLE, stream=EVENTS_STREAM,
                                   config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0,
                                                         max_ack_pending=10_000))
