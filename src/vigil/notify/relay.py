"""The relay: webhooks and MQTT from the JetStream events stream (scale-out; the elected scheduler runs it).

Workers publish their notifications (:class:`vigil.worker.bus.Note`) to the events stream. The
relay reads them through a durable pull consumer with explicit acks, so a relay that restarts (or
a new leader) resumes after the last acknowledged note, and a note whose ack was lost comes back.
For each fetch it:

1. skips the notes already handled (their ids are in ``worker_inbox`` as ``relay.<id>``);
2. publishes each analytics event to MQTT (QoS 1) and waits for the broker's acknowledgement; a
   broker that does not answer gets the whole fetch redelivered later (nothing is stored);
3. in one transaction, records the note ids and queues the matching webhooks in the outbox
   (:func:`vigil.notify.webhook.enqueue`), then acknowledges the notes;
4. sends the due outbox (:func:`vigil.notify.webhook.deliver_pending`): at once for new notes, and
   every ``outbox_every`` seconds for retries and for what the scheduler queued itself (alarms,
   work orders). The relay is then the only sender on the leader.

Delivery is at least once: a crash between the broker's (or the receiver's) answer and the commit
sends again. Receivers dedupe webhooks by ``(event, data.id)`` and MQTT ``vigil/events`` messages by
``(phase, id)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from vigil.analytics.events import MqttSink
from vigil.core.context import Vigil
from vigil.core.errors import NotReadyError
from vigil.notify.webhook import deliver_pending, enqueue
from vigil.worker.bus import Note, relay_consumer
from vigil.worker.models import WorkerInbox

__all__ = ["Relay", "RelayStats", "inbox_id"]

log = logging.getLogger("vigil.notify.relay")


def inbox_id(note: Note) -> str:
    """The id under which a handled note is remembered (beside the writer's probe batches)."""
    return f"relay.{note.msg_id}"[:120]


class RelayStats:
    """Counters for the tests and the status line."""

    def __init__(self) -> None:
        self.relayed = 0
        self.duplicates = 0
        self.mqtt_sent = 0
        self.webhooks_queued = 0
        self.webhooks_delivered = 0
        self.last_error = ""


class Relay:
    """Reads the events stream and sends webhooks (through the outbox) and MQTT; see the module docstring.

    ``mqtt`` is ``(host, port)`` of a broker, or None. ``gate`` (the leader lease check) is awaited
    before each commit: a relay that is no longer the leader leaves the notes to the next one.
    The constructor only assigns.
    """

    def __init__(self, vigil: Vigil, js: Any, *, mqtt: tuple[str, int] | None = None,
                 gate: Callable[[], Awaitable[bool]] | None = None, batch: int = 100,
                 outbox_every: float = 5.0, mqtt_wait_s: float = 5.0) -> None:
        self.vigil = vigil
        self.js = js
        self.mqtt = mqtt
        self.gate = gate
        self.batch = batch
        self.outbox_every = outbox_every
        self.mqtt_wait_s = mqtt_wait_s
        self.stats = RelayStats()
        self._sink: MqttSink | None = None
        self._sink_up = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if self.mqtt is not None:
            self._sink = MqttSink(*self.mqtt, client_id=f"vigil-relay-{id(self):x}")
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="vigil-relay")

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Finish the fetch in hand (a cancelled pull would leave its notes unacked for ``ack_wait``), then stop."""
        if self._task is not None:
            self._stopping.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._sink is not None and self._sink_up:
            self._sink_up = False
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._sink.stop)

    async def _run(self) -> None:
        sub = None
        last_outbox = 0.0
        while not self._stopping.is_set():
            try:
                await self._connect_mqtt()
                if sub is None:
                    sub = await relay_consumer(self.js)
                fresh = await self._once(sub)
                if fresh or time.monotonic() - last_outbox >= self.outbox_every:
                    rep = await deliver_pending(self.vigil, retries=2)
                    self.stats.webhooks_delivered += rep.delivered
                    last_outbox = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS restarting, the database away: retry, never give up
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay: %s", self.stats.last_error)
                sub = None
                await asyncio.sleep(0.5)

    async def _connect_mqtt(self) -> None:
        if self._sink is None or self._sink_up:
            return
        try:
            await asyncio.to_thread(self._sink.start)
            self._sink_up = True
        except NotReadyError as exc:
            self.stats.last_error = str(exc)  # the notes wait in the stream until the broker is back

    async def _once(self, sub: Any) -> int:
        """One fetch; returns how many new notes were handled."""
        try:
            msgs = await sub.fetch(self.batch, timeout=1.0)
        except TimeoutError:
            return 0
        good, notes = [], []
        for m in msgs:
            try:
                notes.append(Note.decode(m.data))
                good.append(m)
            except (ValueError, KeyError, TypeError):
                log.warning("relay: dropping a malformed message on %s", m.subject)
                await m.term()
        if not good:
            return 0
        if self.gate is not None and not await self.gate():  # not the leader: leave them to the one who is
            for m in good:
                await m.nak()
            return 0
        fresh = await asyncio.to_thread(self._unseen, notes)
        try:
            await self._publish_mqtt(fresh)
        except NotReadyError as exc:
            self.stats.last_error = str(exc)
            for m in good:
                await m.nak(delay=2.0)
            return 0
        queued = await asyncio.to_thread(self._store, fresh)
        for m in good:
            await m.ack()
        self.stats.relayed += len(fresh)
        self.stats.duplicates += len(notes) - len(fresh)
        self.stats.webhooks_queued += queued
        return len(fresh)

    async def _publish_mqtt(self, notes: list[Note]) -> None:
        if self._sink is None:
            return
        if not self._sink_up:
            raise NotReadyError(f"MQTT broker {self._sink.host}:{self._sink.port} is not connected")
        for n in notes:
            if n.event.startswith("event.") and {"camera", "label", "id"} <= n.data.keys():
                await asyncio.to_thread(self._sink.publish_data, n.data, wait_s=self.mqtt_wait_s)
                self.stats.mqtt_sent += 1

    def _unseen(self, notes: list[Note]) -> list[Note]:
        ids = {inbox_id(n) for n in notes}
        with self.vigil.db.session() as s:
            seen = set(s.scalars(select(WorkerInbox.msg_id).where(WorkerInbox.msg_id.in_(ids))))
        out, taken = [], set()
        for n in notes:
            key = inbox_id(n)
            if key not in seen and key not in taken:
                taken.add(key)
                out.append(n)
        return out

    def _store(self, notes: list[Note]) -> int:
        queued = 0
        with self.vigil.db.session() as s:
            for n in notes:
                s.add(WorkerInbox(msg_id=inbox_id(n)))
                queued += enqueue(s, n.event, n.data, region_code=n.region_code, now=n.ts)
        return queued
