"""Analytics events made on a worker go to the JetStream events stream (the relay sends their webhooks and MQTT).

:class:`StreamSink` is an analytics event sink (``publish(event)``, called from the analytics
threads): it hands each phase of an event to the worker's event loop as a :class:`~vigil.worker.bus.Note`
(id ``<uid>.<phase>``) and waits for the stream's acknowledgement. Beside it the worker stores the
event row itself with ``DatabaseSink(..., webhooks=False)``, so no webhook is queued twice.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from vigil.analytics.events import AnalyticsEvent
from vigil.core.errors import NotReadyError
from vigil.worker.bus import Note, publish_note

__all__ = ["StreamSink", "event_note"]


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
