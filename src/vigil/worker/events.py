"""Analytics events made on a worker go to the JetStream events stream (the relay sends their webhooks and MQTT).

:class:`StreamSink` is an analytics event sink (``publish(event)``, called from the analytics
threads): it hands each phase of an event to the worker's event loop as a :class:`~vigil.worker.bus.Note`
(id ``<uid>.<phase>``) and waits for the stream's acknowledgement. Beside it the worker stores the
event row itself with ``DatabaseSink(..., webhooks=False)``, so no webhook is queued twice.
:class:`StoreThenNotify` puts the two in order: the note goes out only once the row is stored, so
a row refused by the shard's fence (:mod:`vigil.worker.fence`) is announced by nobody.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from vigil.analytics.events import AnalyticsEvent, DatabaseSink
from vigil.analytics.roadrules import QueueMinute
from vigil.core.errors import NotReadyError
from vigil.worker.bus import Note, publish_note

__all__ = ["StoreThenNotify", "StreamSink", "event_note"]


def event_note(event: AnalyticsEvent, region_code: str) -> Note:
    """The notification of one phase of ``event`` (``event.<type>.start`` or ``.end``)."""
    phase = "start" if event.end is None else "end"
    return Note(f"{event.uid}.{phase}", f"event.{event.type}.{phase}", region_code, event.end or event.start,
                event.to_json())


class StreamSink:
    """Publishes events to the events stream through ``loop`` (the worker's), from any thread."""

    def __init__(self, js: Any, loop: asyncio.AbstractEventLoop, *, region_code: str, within: float = 30.0) -> None:
        self.js = js
        self.loop = loop
        self.region_code = region_code
        self.within = within

    def publish(self, event: AnalyticsEvent) -> None:
        fut = asyncio.run_coroutine_threadsafe(
            publish_note(self.js, event_note(event, self.region_code), within=self.within), self.loop)
        try:
            fut.result(self.within + 5.0)
        except FutureTimeout:
            fut.cancel()
            raise NotReadyError(f"the events stream did not take event {event.uid}") from None


class StoreThenNotify:
    """Store an event's row with ``store``, then (only if that worked) publish its note with ``notify``."""

    def __init__(self, store: DatabaseSink, notify: StreamSink) -> None:
        self.store = store
        self.notify = notify

    def publish(self, event: AnalyticsEvent) -> None:
        self.store.publish(event)  # FencedOff, or the database away: no note for a row that is not there
        self.notify.publish(event)

    def record_queue(self, sample: QueueMinute) -> None:
        """Queue lengths are rows only (no note)."""
        self.store.record_queue(sample)
